using System.Text;
using Milter.Protocol.Session;

namespace Milter.Protocol.Tests;

/// <summary>The order rules as a matrix (command x phase, under the flags that change them), compared with
/// TestData/session-order.txt. The file was written from the switches the command table replaced, so any
/// change to what the session accepts shows here as a diff. Regenerate: MILTER_WRITE_GOLDEN=1.</summary>
public class SessionOrderMatrixTests
{
    private static readonly MilterProtocolFlags[] s_flagSets =
    [
        MilterProtocolFlags.None,
        MilterProtocolFlags.NoConnect,
        MilterProtocolFlags.NoMail,
        MilterProtocolFlags.NoRcpt,
        MilterProtocolFlags.NoConnect | MilterProtocolFlags.NoMail,
        MilterProtocolFlags.NoMail | MilterProtocolFlags.NoRcpt,
        MilterProtocolFlags.NoConnect | MilterProtocolFlags.NoMail | MilterProtocolFlags.NoRcpt,
        // Every stage negotiated away (NO*), and every flag: no other flag changes the order.
        MilterProtocolFlags.NoConnect | MilterProtocolFlags.NoHelo | MilterProtocolFlags.NoMail | MilterProtocolFlags.NoRcpt | MilterProtocolFlags.NoData
            | MilterProtocolFlags.NoHeaders | MilterProtocolFlags.NoEoh | MilterProtocolFlags.NoBody | MilterProtocolFlags.NoUnknown,
        Negotiation.AllProtocolFlags,
    ];

    [Fact]
    public void Order_reply_stage_and_macro_scope_rules_match_the_recorded_matrix()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "TestData", "session-order.txt");
        var actual = Render();
        if (Environment.GetEnvironmentVariable("MILTER_WRITE_GOLDEN") == "1")
        {
            var source = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "TestData", "session-order.txt");
            File.WriteAllText(Path.GetFullPath(source), actual);
        }
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), actual);
    }

    /// <summary>One block per flag set: a cell is '.' when the command is refused in that phase, else the phase
    /// after it ('+' when it starts a message). Then per command: reply rule, handler stage, macro scope.</summary>
    private static string Render()
    {
        var phases = Enum.GetValues<SessionPhase>();
        var commands = CommandTable.Rows.OrderBy(r => r.Code).ToArray();
        var sb = new StringBuilder();
        foreach (var flags in s_flagSets)
        {
            sb.Append("flags ").Append(flags).Append('\n');
            sb.Append(' ', 15).AppendJoin(' ', phases.Select(p => Short(p).PadRight(3))).Append('\n');
            foreach (var command in commands)
            {
                sb.Append(command.Name.PadRight(15));
                foreach (var start in phases)
                {
                    var phase = start;
                    var cell = !SessionOrder.IsAllowed(command, ref phase, flags, out var starts) ? "."
                        : Short(command.After ?? phase) + (starts ? "+" : "");
                    sb.Append(cell.PadRight(4));
                }
                while (sb[^1] == ' ') sb.Length--;
                sb.Append('\n');
            }
            sb.Append('\n');
        }
        foreach (var command in commands)
        {
            sb.Append(command.Name.PadRight(15))
                .Append("reply ").Append(Reply(command).PadRight(22))
                .Append("stage ").Append(command.Stage.ToString().PadRight(13))
                .Append("macros ").Append(command.MessageMacros ? "message" : "connection").Append('\n');
        }
        return sb.ToString();
    }

    private static string Reply(CommandRule command)
    {
        if (!command.Reply.Expected(MilterProtocolFlags.None)) return "never";
        var off = Enumerable.Range(0, 21).Select(i => (MilterProtocolFlags)(1u << i))
            .Where(f => !command.Reply.Expected(f)).ToArray();
        return off.Length == 0 ? "always" : "unless " + string.Join('|', off);
    }

    private static string Short(SessionPhase phase) => phase switch
    {
        SessionPhase.AwaitOptNeg => "Opt",
        SessionPhase.AwaitConnect => "Con",
        SessionPhase.Connected => "Ced",
        SessionPhase.Mail => "Mai",
        SessionPhase.Rcpt => "Rcp",
        SessionPhase.Data => "Dat",
        SessionPhase.Header => "Hdr",
        SessionPhase.EndOfHeaders => "Eoh",
        SessionPhase.Body => "Bod",
        _ => phase.ToString(),
    };
}
