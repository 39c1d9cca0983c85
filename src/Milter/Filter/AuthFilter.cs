using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Milter.Configuration;
using Milter.MailAuth.AuthenticationResults;
using Milter.Protocol;

namespace Milter.Filter;

/// <summary>
/// The only code that sees both the milter protocol and the mail-auth engines. One instance per
/// connection. At end of message it removes forged Authentication-Results headers carrying our
/// authserv-id and inserts ours at the top.
/// </summary>
internal sealed class AuthFilter : MilterHandlerBase
{
    public const int MaxHeaders = 1000;
    public const long MaxHeaderBytes = 1024 * 1024;
    private const string AuthResultsHeader = AuthenticationResultsWriter.HeaderName;

    private static readonly MilterCapabilities Caps = new()
    {
        Stages = MilterStages.Connect | MilterStages.Helo | MilterStages.MailFrom | MilterStages.Headers
                 | MilterStages.EndOfHeaders | MilterStages.Body,
        NoReplyStages = MilterStages.Connect | MilterStages.Helo | MilterStages.Headers | MilterStages.EndOfHeaders | MilterStages.Body,
        Actions = MilterActions.AddHeaders | MilterActions.ChangeHeaders,
        HeaderLeadingSpace = true,
        Macros = new Dictionary<MacroStage, IReadOnlyList<string>>
        {
            [MacroStage.Connect] = ["j", "{daemon_name}"],
            [MacroStage.MailFrom] = ["i", "{auth_type}", "{auth_authen}"],
            [MacroStage.EndOfMessage] = ["i"],
        },
    };

    private readonly FilterServices _services;
    private readonly ILogger _logger;
    private readonly MessageState _state = new();

    public AuthFilter(FilterServices services)
    {
        _services = services;
        _logger = services.Logger;
    }

    public override MilterCapabilities Capabilities => Caps;

    private MilterOptions Options => _services.Options;

    public override ValueTask<MilterResponse> OnConnectAsync(MilterContext context, ConnectInfo info, CancellationToken cancellationToken)
    {
        _state.ClientName = info.HostName;
        _state.ClientAddress = info.IPAddress;
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnHeloAsync(MilterContext context, string helo, CancellationToken cancellationToken)
    {
        _state.Helo = helo;
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnMailFromAsync(MilterContext context, string sender, IReadOnlyList<string> esmtpArgs, CancellationToken cancellationToken)
    {
        _state.ResetMessage();
        _state.StartTimestamp = Stopwatch.GetTimestamp();
        _state.MailFrom = sender;
        _state.Authenticated = !string.IsNullOrEmpty(context.GetMacro("{auth_type}")) || !string.IsNullOrEmpty(context.GetMacro("{auth_authen}"));
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnHeaderAsync(MilterContext context, string name, byte[] rawValue, CancellationToken cancellationToken)
    {
        if (_state.StartTimestamp == 0) _state.StartTimestamp = Stopwatch.GetTimestamp();
        _state.HeaderBytes += name.Length + rawValue.Length;
        if (_state.Headers.Count >= MaxHeaders || _state.HeaderBytes > MaxHeaderBytes)
        {
            _state.HeadersTruncated = true;
            return MilterResponse.ContinueTask;
        }
        _state.Headers.Add((name, rawValue));
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnBodyChunkAsync(MilterContext context, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken)
    {
        _state.BodyBytes += chunk.Length;
        return MilterResponse.ContinueTask;
    }

    public override ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken cancellationToken)
    {
        var authservId = Options.AuthservId!;
        // Forged Authentication-Results with our authserv-id: delete them, the last one first
        // (Postfix renumbers after each delete).
        var forged = FindForgedAuthResults(authservId);
        foreach (var occurrence in forged)
            modifier.DeleteHeader(AuthResultsHeader, occurrence);

        // RFC 8601 2.2: "none" when no method was applied.
        var value = AuthenticationResultsWriter.Format(authservId, []);
        modifier.InsertHeader(0, AuthenticationResultsWriter.HeaderName, value);

        LogMessage(context, "continue", forged.Count, "none");
        _state.ResetMessage();
        return MilterResponse.ContinueTask;
    }

    public override ValueTask OnAbortAsync(MilterContext context, CancellationToken cancellationToken)
    {
        _state.ResetMessage();
        return ValueTask.CompletedTask;
    }

    private IReadOnlyList<int> FindForgedAuthResults(string authservId)
        => ForgedHeaderFinder.Find(_state.Headers.Select(h => (h.Name, Encoding.Latin1.GetString(h.Value))), authservId);

    private void LogMessage(MilterContext context, string verdict, int forgedRemoved, string results)
    {
        var elapsed = _state.StartTimestamp == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_state.StartTimestamp);
        _logger.LogInformation(
            "message queue={QueueId} client={ClientName}[{ClientAddress}] from={MailFrom} verdict={Verdict} results={Results} forged_removed={Forged} body_bytes={BodyBytes} ms={Elapsed:F1}",
            context.GetMacro("i") ?? "-", _state.ClientName ?? "-", _state.ClientAddress?.ToString() ?? "-",
            _state.MailFrom ?? "-", verdict, results, forgedRemoved, _state.BodyBytes, elapsed.TotalMilliseconds);
    }
}
