#:project ../src/Milter.MailAuth/Milter.MailAuth.csproj
#:property PublishAot=false

// In-process DKIM verify throughput: one thread, keys answered from memory (and the key cache), no milter, no
// socket. It isolates DkimVerifier's own cost, the part a change in the verify order can move.
//   dotnet run -c Release bench/dkim-verify-loop.cs [seconds per case, default 5]
// Cases: a valid 2 KB message signed with RSA-2048 and with Ed25519, and the same messages with a changed body.
// Prints messages/s and CPU microseconds a message; each case first runs a warm-up of the same length.
using System.Diagnostics;
using System.Net;
using System.Text;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;

double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
var body = new StringBuilder();
while (body.Length < 2048)
{
    body.Append("The quick brown fox jumps over the lazy dog, line ").Append(body.Length).Append(".\r\n");
}
byte[] message = Encoding.ASCII.GetBytes("From: Joe <joe@example.com>\r\nTo: ann@example.net\r\nSubject: bench\r\n"
    + "Date: Fri, 4 Dec 2026 12:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\n" + body);

var dns = new MemoryTxt();
foreach ((string selector, DkimPrivateKey key) in new[]
    { ("rsa", DkimPrivateKey.Generate(DkimKeyType.Rsa, 2048)), ("ed", DkimPrivateKey.Generate(DkimKeyType.Ed25519)) })
{
    dns.Records[selector + "._domainkey.example.com"] = key.PublicKeyRecord;
    byte[] signed = new DkimSigner(new DkimSignerOptions { Domain = "example.com", Selector = selector, Key = key })
        .SignMessageToBytes(message, out DkimSignResult result);
    if (!result.Success)
    {
        throw new InvalidOperationException(result.Error);
    }
    byte[] changed = (byte[])signed.Clone();
    changed[^5] ^= 0x20; // one letter of the body changes case
    await RunAsync($"{selector} valid", signed, DkimResult.Pass);
    await RunAsync($"{selector} changed body", changed, DkimResult.Fail);
}

async Task RunAsync(string name, byte[] input, DkimResult expected)
{
    var verifier = new DkimVerifier(dns);
    DkimResult got = (await verifier.VerifyMessageAsync(input))[0].Result;
    if (got != expected)
    {
        throw new InvalidOperationException($"{name}: {got}, expected {expected}");
    }
    await LoopAsync(verifier, input); // warm-up (JIT tiering)
    (int n, double wall, double cpu) = await LoopAsync(verifier, input);
    Console.WriteLine($"{name,-20} {n / wall,10:F0} messages/s {cpu / n * 1e6,8:F1} CPU us/message");
}

async Task<(int, double, double)> LoopAsync(DkimVerifier verifier, byte[] input)
{
    var process = Process.GetCurrentProcess();
    TimeSpan cpu0 = process.TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    int n = 0;
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        for (int i = 0; i < 100; i++)
        {
            await verifier.VerifyMessageAsync(input);
        }
        n += 100;
    }
    double wall = clock.Elapsed.TotalSeconds;
    process.Refresh();
    return (n, wall, (process.TotalProcessorTime - cpu0).TotalSeconds);
}

internal sealed class MemoryTxt : IDnsResolver
{
    public Dictionary<string, string> Records { get; } = new(StringComparer.OrdinalIgnoreCase);

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Records.TryGetValue(name, out string? txt) ? DnsAnswer<string>.Of(txt) : DnsAnswer<string>.NxDomain);

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<IPAddress>.NxDomain);

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<MxRecord>.NxDomain);

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<string>.NxDomain);
}
