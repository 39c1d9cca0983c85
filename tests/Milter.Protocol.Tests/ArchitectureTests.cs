using Milter.Protocol.Server;

namespace Milter.Protocol.Tests;

public class ArchitectureTests
{
    [Fact]
    public void Protocol_assembly_never_references_the_engines()
    {
        var refs = typeof(MilterServer).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("Milter.MailAuth", refs);
        Assert.DoesNotContain("Milter", refs);
    }
}
