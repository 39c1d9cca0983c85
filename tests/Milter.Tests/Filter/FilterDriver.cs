using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.Filter;
using Milter.Keys;
using Milter.MailAuth.Dkim;
using Milter.MailAuth.Dns;
using Milter.Metrics;
using Milter.Protocol;
using Milter.Tests.Reporting;

namespace Milter.Tests.Filter;

/// <summary>
/// Drives one <see cref="AuthFilter"/> in process, stage by stage as the protocol session would, with an
/// in-memory DNS that answers NXDOMAIN to everything and a modifier that records what the filter asks for.
/// </summary>
internal sealed class FilterDriver
{
    public const string AuthservId = "mx.cap.test";
    public const string Inside = "127.0.0.1";
    public const string Outside = "192.0.2.25";

    private readonly FilterServicesHolder _holder;

    public FilterDriver(Action<MilterOptions>? configure = null, KeyStore? keys = null, MilterMetrics? metrics = null)
        : this(Options(configure), new NxDomainResolver(), keys, metrics: metrics)
    {
    }

    /// <summary>A filter with these options; <paramref name="dns"/> null means the resolver the daemon builds from them.</summary>
    public FilterDriver(MilterOptions options, IDnsResolver? dns, KeyStore? keys = null, TimeProvider? time = null, MilterMetrics? metrics = null)
    {
        _holder = new FilterServicesHolder(new FilterServices(options, keys ?? KeyStore.Empty, Logger, time ?? TimeProvider.System, dns: dns,
            metrics: metrics));
    }

    /// <summary>The driver's default options (authserv-id <see cref="AuthservId"/>, no report store), then <paramref name="configure"/>.</summary>
    public static MilterOptions Options(Action<MilterOptions>? configure = null)
    {
        var options = new MilterOptions { AuthservId = AuthservId };
        options.Reports.DataDirectory = "";
        ConfigLoader.ApplyDefaults(options);
        configure?.Invoke(options);
        ConfigLoader.Validate(options);
        return options;
    }

    /// <summary>
    /// One whole message (CRLF line ends) as Postfix hands it over: connect, HELO, MAIL FROM (with the {auth_type}
    /// macro when <see cref="Envelope.Authenticated"/>), each header field with its value exactly as after the colon
    /// (HDR_LEADSPC negotiated) and LF folds, the body in chunks of at most 64 KiB, end of message. The negotiated
    /// actions are the ones the filter asks for.
    /// </summary>
    public async Task<(MilterResponse Response, RecordingModifier Modifier)> SendMessageAsync(Envelope envelope, ReadOnlyMemory<byte> message)
    {
        var filter = new AuthFilter(_holder);
        var context = new MilterContext(1)
        {
            Actions = filter.Capabilities.Actions,
            ProtocolFlags = MilterProtocolFlags.HeaderLeadingSpace,
        };
        var ct = CancellationToken.None;
        if (envelope.ClientResolve is not null) context.SetMacro("{client_resolve}", envelope.ClientResolve, messageScope: false);
        await filter.OnConnectAsync(context, new ConnectInfo(envelope.ClientName, ConnectFamily.IPv4, 25000, envelope.Client), ct);
        await filter.OnHeloAsync(context, envelope.Helo, ct);
        context.SetMacro("i", envelope.QueueId, messageScope: true);
        if (envelope.Authenticated) context.SetMacro("{auth_type}", "PLAIN", messageScope: true);
        await filter.OnMailFromAsync(context, envelope.MailFrom, [], ct);
        var parsed = RawMessageParser.Parse(message);
        foreach (var field in parsed.Headers)
        {
            var value = Encoding.Latin1.GetString(field.Value.Span).Replace("\r\n", "\n", StringComparison.Ordinal);
            await filter.OnHeaderAsync(context, field.NameString, Encoding.Latin1.GetBytes(value), ct);
        }
        await filter.OnEndOfHeadersAsync(context, ct);
        for (var body = parsed.Body; !body.IsEmpty; body = body[Math.Min(body.Length, 65535)..])
            await filter.OnBodyChunkAsync(context, body[..Math.Min(body.Length, 65535)], ct);
        var modifier = new RecordingModifier();
        var response = await filter.OnEndOfMessageAsync(context, modifier, ct);
        await filter.OnCloseAsync(context);
        return (response, modifier);
    }

    /// <summary>The SMTP side of one message.</summary>
    /// <param name="ClientName">The host name the MTA passes at connect.</param>
    /// <param name="ClientResolve">Sendmail's {client_resolve} connect macro (OK, FORGED, ...), or null when not sent.</param>
    public sealed record Envelope(string Client, string Helo, string MailFrom, bool Authenticated = false, string QueueId = "4ABC123",
        string ClientName = "client.test", string? ClientResolve = null);

    public CollectingLogger<AuthFilter> Logger { get; } = new();

    /// <summary>One message from <paramref name="client"/>: the headers (name, value after the colon) and a short body.</summary>
    public async Task<(MilterResponse Response, RecordingModifier Modifier)> SendAsync(string client, IEnumerable<(string Name, string Value)> headers)
    {
        var filter = new AuthFilter(_holder);
        var context = new MilterContext(1);
        var ct = CancellationToken.None;
        await filter.OnConnectAsync(context, new ConnectInfo("client.test", ConnectFamily.IPv4, 25000, client), ct);
        await filter.OnHeloAsync(context, "client.test", ct);
        await filter.OnMailFromAsync(context, "<bounce@sender.test>", [], ct);
        foreach (var (name, value) in headers)
            await filter.OnHeaderAsync(context, name, Encoding.Latin1.GetBytes(value), ct);
        await filter.OnEndOfHeadersAsync(context, ct);
        await filter.OnBodyChunkAsync(context, "Hello\r\n"u8.ToArray(), ct);
        var modifier = new RecordingModifier();
        var response = await filter.OnEndOfMessageAsync(context, modifier, ct);
        await filter.OnCloseAsync(context);
        return (response, modifier);
    }

    /// <summary>Filler fields: small, distinct, none the filter looks at.</summary>
    public static IEnumerable<(string, string)> Fillers(int count)
        => Enumerable.Range(1, count).Select(i => ($"X-Filler-{i}", " x"));

    private sealed class NxDomainResolver : IDnsResolver
    {
        public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<string>.NxDomain);
        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string name, bool ipv6, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<IPAddress>.NxDomain);
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string name, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<MxRecord>.NxDomain);
        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<string>.NxDomain);
    }
}

/// <summary>Records the end-of-message modifications in call order.</summary>
internal sealed class RecordingModifier : IMessageModifier
{
    public List<(string Op, string Name, int Index, string? Value)> Calls { get; } = new();

    public IEnumerable<int> Deleted(string name)
        => Calls.Where(c => c.Op == "delete" && c.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(c => c.Index);

    public void AddHeader(string name, string value) => Calls.Add(("add", name, -1, value));
    public void InsertHeader(int index, string name, string value) => Calls.Add(("insert", name, index, value));
    public void ChangeHeader(string name, int occurrence, string value) => Calls.Add(("change", name, occurrence, value));
    public void DeleteHeader(string name, int occurrence) => Calls.Add(("delete", name, occurrence, null));
    public void Quarantine(string reason) => Calls.Add(("quarantine", "", -1, reason));
    public void ChangeSender(string sender, string? esmtpArgs = null) => Calls.Add(("chgfrom", sender, -1, esmtpArgs));
    public void AddRecipient(string recipient, string? esmtpArgs = null) => Calls.Add(("addrcpt", recipient, -1, esmtpArgs));
    public void DeleteRecipient(string recipient) => Calls.Add(("delrcpt", recipient, -1, null));
    public void ReplaceBody(ReadOnlyMemory<byte> body) => Calls.Add(("body", "", -1, null));
    public ValueTask ProgressAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
