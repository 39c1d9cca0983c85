using Milter.Protocol.Server;

namespace Milter.Protocol.Tests;

public class ListenSpecTests
{
    [Theory]
    [InlineData("inet:8891@127.0.0.1", ListenKind.Inet, "127.0.0.1", 8891, null, "inet:8891@127.0.0.1")]
    [InlineData("inet:8891", ListenKind.Inet, null, 8891, null, "inet:8891")]
    [InlineData("inet:0@localhost", ListenKind.Inet, "localhost", 0, null, "inet:0@localhost")]
    [InlineData("inet6:8891@::1", ListenKind.Inet6, "::1", 8891, null, "inet6:8891@::1")]
    [InlineData("inet6:8891@[::1]", ListenKind.Inet6, "::1", 8891, null, "inet6:8891@::1")]
    [InlineData("inet6:25", ListenKind.Inet6, null, 25, null, "inet6:25")]
    [InlineData("unix:/run/milter/milter.sock", ListenKind.Unix, null, 0, "/run/milter/milter.sock", "unix:/run/milter/milter.sock")]
    [InlineData("local:/var/run/m.sock", ListenKind.Unix, null, 0, "/var/run/m.sock", "unix:/var/run/m.sock")]
    [InlineData("INET:1@h", ListenKind.Inet, "h", 1, null, "inet:1@h")]
    public void Parses_and_prints(string text, ListenKind kind, string? host, int port, string? path, string printed)
    {
        var spec = ListenSpec.Parse(text);
        Assert.Equal(new ListenSpec(kind, host, port, path), spec);
        Assert.Equal(printed, spec.ToString());
        Assert.Equal(spec, ListenSpec.Parse(spec.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("8891", "missing the kind")]
    [InlineData("tcp:8891", "unknown kind 'tcp'")]
    [InlineData("inet:", "bad port")]
    [InlineData("inet:abc@127.0.0.1", "bad port 'abc'")]
    [InlineData("inet:65536", "bad port")]
    [InlineData("inet:-1", "bad port")]
    [InlineData("inet:25@", "empty host")]
    [InlineData("unix:", "missing the socket path")]
    [InlineData("inet:8891@127.1", "neither an IP address")] // issue 13: inet_aton would read 127.0.0.1
    [InlineData("inet:8891@1.2.3", "neither an IP address")]
    [InlineData("inet:8891@0x7f.1", "neither an IP address")]
    [InlineData("inet:8891@2130706433", "neither an IP address")]
    [InlineData("inet:8891@010.0.0.1", "neither an IP address")]
    [InlineData("inet6:8891@fe80::1%eth0", "neither an IP address")]
    public void Rejects_with_a_clear_message(string text, string fragment)
    {
        Assert.False(ListenSpec.TryParse(text, out var result, out var error));
        Assert.Null(result);
        Assert.Contains(fragment, error);
        var ex = Assert.Throws<FormatException>(() => ListenSpec.Parse(text));
        Assert.Equal(error, ex.Message);
    }
}

public class OptionsTests
{
    [Fact]
    public void Defaults_are_valid() => new MilterServerOptions().Validate();

    [Theory]
    [InlineData(nameof(MilterServerOptions.MaxFrameSize))]
    [InlineData(nameof(MilterServerOptions.MaxConnections))]
    [InlineData(nameof(MilterServerOptions.IdleTimeout))]
    [InlineData(nameof(MilterServerOptions.HandlerTimeout))]
    [InlineData(nameof(MilterServerOptions.ProgressInterval))]
    [InlineData(nameof(MilterServerOptions.DrainTimeout))]
    public void Bad_values_are_refused_naming_the_option(string name)
    {
        var o = new MilterServerOptions();
        switch (name)
        {
            case nameof(o.MaxFrameSize): o.MaxFrameSize = 10; break;
            case nameof(o.MaxConnections): o.MaxConnections = 0; break;
            case nameof(o.IdleTimeout): o.IdleTimeout = TimeSpan.Zero; break;
            case nameof(o.HandlerTimeout): o.HandlerTimeout = TimeSpan.FromDays(100); break;
            case nameof(o.ProgressInterval): o.ProgressInterval = TimeSpan.FromSeconds(-5); break;
            case nameof(o.DrainTimeout): o.DrainTimeout = TimeSpan.FromSeconds(-1); break;
        }
        var ex = Assert.Throws<ArgumentOutOfRangeException>(o.Validate);
        Assert.Equal(name, ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MilterServer(o, () => throw new InvalidOperationException(), new ListLoggerFactory()));
    }
}
