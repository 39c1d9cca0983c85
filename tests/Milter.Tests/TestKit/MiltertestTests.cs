using Milter.TestKit.Peers;

namespace Milter.Tests.TestKit;

public sealed class MiltertestTests
{
    [Fact]
    public async Task A_script_that_only_prints_succeeds_and_sees_its_defines()
    {
        var result = await Miltertest.RunAsync("""
            step("greet")
            print("hello from lua, port " .. PORT)
            assert(type(mt.connect) == "function")
            """, defines: new Dictionary<string, string> { ["PORT"] = "12345" });
        result.EnsureSuccess();
        Assert.Contains("step: greet", result.StdOut);
        Assert.Contains("hello from lua, port 12345", result.StdOut);
    }

    [Fact]
    public async Task A_lua_error_names_the_step_it_happened_in()
    {
        var result = await Miltertest.RunAsync("""
            step("connect")
            print("before")
            step("eom")
            error("the filter did not add a header")
            """);
        Assert.False(result.Succeeded);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Lua error in step 'eom'", result.StdErr);
        Assert.Contains("the filter did not add a header", result.StdErr);
        Assert.Contains("before", result.StdOut);
        var error = Assert.Throws<InvalidOperationException>(() => result.EnsureSuccess());
        Assert.Contains("   4: error(\"the filter did not add a header\")", error.Message);
    }

    [Fact]
    public async Task A_syntax_error_is_reported_not_swallowed()
    {
        var result = await Miltertest.RunAsync("this is not ]] lua ]=] at all");
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("Lua syntax error", result.StdErr);
        Assert.Contains("test.lua", result.StdErr);
    }

    [Fact]
    public async Task Connecting_to_a_port_where_nothing_listens_fails_in_that_step()
    {
        int port = Milter.TestKit.FreePort.Next();
        var result = await Miltertest.RunAsync("""
            step("connect")
            local conn = mt.connect("inet:" .. PORT .. "@127.0.0.1", 1, 0.1)
            if conn == nil then error("no milter at port " .. PORT) end
            """, TimeSpan.FromSeconds(20), new Dictionary<string, string> { ["PORT"] = port.ToString() });
        Assert.False(result.Succeeded, result.Describe());
        Assert.Contains("step 'connect'", result.StdErr);
    }

    [Fact]
    public async Task A_hanging_script_is_killed_at_the_timeout()
    {
        var result = await Miltertest.RunAsync("while true do end", TimeSpan.FromSeconds(1));
        Assert.True(result.Process.TimedOut);
        Assert.False(result.Succeeded);
    }
}
