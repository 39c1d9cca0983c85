using Milter.TestKit;

namespace Milter.Tests.Commands;

/// <summary>dkimpy (python3-dkim) verifying one message with its keys looked up by dnspython at a DNS server on loopback.</summary>
internal static class DkimpyDnsVerifier
{
    private const string Python = "/usr/bin/python3";

    private const string Script = """
        import sys
        import dkim, dns.resolver
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ['127.0.0.1']
        resolver.port = int(sys.argv[1])
        def dnsfunc(name, timeout=5):
            n = name.decode() if isinstance(name, bytes) else name
            try:
                answer = resolver.resolve(n, 'TXT', lifetime=timeout)
            except dns.exception.DNSException:
                return None
            return b''.join(answer[0].strings)
        message = sys.stdin.buffer.read()
        ok = dkim.verify(message, dnsfunc=dnsfunc)
        print('pass' if ok else 'fail')
        """;

    /// <summary>True when dkimpy finds a valid signature; fails the test when python3-dkim is missing.</summary>
    public static async Task<bool> VerifyAsync(byte[] message, int dnsPort)
    {
        ProcessRunner.Require(Python, "python3");
        var result = await ProcessRunner.RunAsync(Python, ["-c", Script, dnsPort.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TimeSpan.FromSeconds(60), message, workingDirectory: null);
        if (result.ExitCode != 0 || result.TimedOut)
            throw new InvalidOperationException("dkimpy failed (are python3-dkim and python3-dnspython installed?): " + result.Describe());
        return result.StdOut.Trim() switch
        {
            "pass" => true,
            "fail" => false,
            var other => throw new InvalidOperationException("unexpected dkimpy output: " + other),
        };
    }
}
