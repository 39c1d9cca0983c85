using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public class CommandTableTests
{
    /// <summary>The SMFIC_* bytes of sendmail's include/libmilter/mfdef.h, MTA to filter.</summary>
    private const string MfdefCommands = "ABCDEHKLMNOQRTU";

    [Fact]
    public void Every_mfdef_command_byte_has_exactly_one_row_and_no_other_byte_has_one()
    {
        foreach (var code in MfdefCommands.Select(c => (byte)c))
        {
            Assert.Single(CommandTable.Rows, r => r.Code == code);
            Assert.Equal(code, CommandTable.Find(code)!.Code);
        }
        Assert.Equal(MfdefCommands.Length, CommandTable.Rows.Count);
        for (var b = 0; b < 256; b++)
            if (!MfdefCommands.Contains((char)b, StringComparison.Ordinal)) Assert.Null(CommandTable.Find((byte)b));
    }

    [Fact]
    public void The_MilterCommand_constants_are_the_mfdef_bytes()
        => Assert.Equal(MfdefCommands.Select(c => (byte)c).Order(), CommandTable.KnownCommands().Order());

    [Fact]
    public void The_table_passes_its_start_up_check()
        => Assert.Empty(CommandTable.Check(CommandTable.Rows, CommandTable.KnownCommands()));

    [Fact]
    public void Start_up_check_reports_a_command_without_a_row_and_one_with_two()
    {
        var rows = CommandTable.Rows.Where(r => r.Code != MilterCommand.Helo).ToList();
        Assert.Contains(CommandTable.Check(rows, CommandTable.KnownCommands()), p => p.Contains("'H' has 0 rows", StringComparison.Ordinal));
        rows = [.. CommandTable.Rows, CommandTable.Find(MilterCommand.Rcpt)! with { Name = "SMFIC_RCPT2" }];
        Assert.Contains(CommandTable.Check(rows, CommandTable.KnownCommands()), p => p.Contains("'R' has 2 rows", StringComparison.Ordinal));
    }

    [Fact]
    public void Start_up_check_reports_a_row_for_a_byte_that_is_no_command()
    {
        var rows = CommandTable.Rows.Append(CommandTable.Find(MilterCommand.Data)! with { Code = (byte)'X', Name = "X" }).ToList();
        Assert.Contains(CommandTable.Check(rows, CommandTable.KnownCommands()), p => p.Contains("is not a MilterCommand", StringComparison.Ordinal));
    }

    public static TheoryData<string> BrokenRows => new()
    {
        "phases", "no handler", "handler without stage", "message scope before MAIL", "two ways forward",
    };

    [Theory]
    [MemberData(nameof(BrokenRows))]
    public void Start_up_check_reports_a_row_that_contradicts_itself(string broken)
    {
        var rcpt = CommandTable.Find(MilterCommand.Rcpt)!;
        var header = CommandTable.Find(MilterCommand.Header)!;
        var (original, replaced) = broken switch
        {
            "phases" => (rcpt, rcpt with { Min = SessionPhase.Body }),
            "no handler" => (rcpt, rcpt with { Call = null }),
            "handler without stage" => (rcpt, rcpt with { Stage = MilterStages.None }),
            "message scope before MAIL" => (rcpt, rcpt with { Min = SessionPhase.Connected }),
            // HEADER would lead from Mail to Rcpt as RCPT does: which one did the MTA omit?
            "two ways forward" => (header, header with { After = SessionPhase.Rcpt }),
            _ => throw new ArgumentOutOfRangeException(nameof(broken)),
        };
        var rows = CommandTable.Rows.Select(r => r == original ? replaced : r).ToList();
        Assert.NotEmpty(CommandTable.Check(rows, CommandTable.KnownCommands()));
    }

    [Fact]
    public void Each_handler_stage_belongs_to_one_command_with_its_NO_and_NR_flags()
    {
        // The pairs libmilter and Postfix use (mfdef.h SMFIP_NO* and SMFIP_NR_*), as Negotiation offers them.
        (byte Code, MilterStages Stage, MilterProtocolFlags No, MilterProtocolFlags NoReply)[] expected =
        [
            (MilterCommand.Connect, MilterStages.Connect, MilterProtocolFlags.NoConnect, MilterProtocolFlags.NoReplyConnect),
            (MilterCommand.Helo, MilterStages.Helo, MilterProtocolFlags.NoHelo, MilterProtocolFlags.NoReplyHelo),
            (MilterCommand.Mail, MilterStages.MailFrom, MilterProtocolFlags.NoMail, MilterProtocolFlags.NoReplyMail),
            (MilterCommand.Rcpt, MilterStages.RcptTo, MilterProtocolFlags.NoRcpt, MilterProtocolFlags.NoReplyRcpt),
            (MilterCommand.Data, MilterStages.Data, MilterProtocolFlags.NoData, MilterProtocolFlags.NoReplyData),
            (MilterCommand.Header, MilterStages.Headers, MilterProtocolFlags.NoHeaders, MilterProtocolFlags.NoReplyHeader),
            (MilterCommand.EndOfHeaders, MilterStages.EndOfHeaders, MilterProtocolFlags.NoEoh, MilterProtocolFlags.NoReplyEoh),
            (MilterCommand.Body, MilterStages.Body, MilterProtocolFlags.NoBody, MilterProtocolFlags.NoReplyBody),
            (MilterCommand.Unknown, MilterStages.Unknown, MilterProtocolFlags.NoUnknown, MilterProtocolFlags.NoReplyUnknown),
        ];
        var actual = CommandTable.Rows.Where(r => r.Stage != MilterStages.None)
            .Select(r => (r.Code, r.Stage, r.Omitted, r.Reply.UnlessFlag)).OrderBy(r => r.Code).ToArray();
        Assert.Equal(expected.OrderBy(e => e.Code).ToArray(), actual);
        Assert.Equal(MilterStages.All, CommandTable.Rows.Aggregate(MilterStages.None, (all, r) => all | r.Stage));
    }

    [Fact]
    public void Names_are_the_mfdef_names_and_other_bytes_print_in_hex()
    {
        Assert.Equal("SMFIC_QUIT_NC", CommandTable.Name(MilterCommand.QuitNewConnection));
        Assert.Equal("SMFIC_EOH", CommandTable.Name(MilterCommand.EndOfHeaders));
        Assert.Equal("0x58", CommandTable.Name((byte)'X'));
        Assert.All(CommandTable.Rows, r => Assert.StartsWith("SMFIC_", r.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void Looking_up_a_command_and_checking_its_order_allocates_nothing()
    {
        var body = CommandTable.Find(MilterCommand.Body)!;
        var allowed = 0;
        Lookups();
        var before = GC.GetAllocatedBytesForCurrentThread();
        Lookups();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(allowed > 0);

        void Lookups()
        {
            for (var i = 0; i < 1000; i++)
            {
                var rule = CommandTable.Find((byte)(i % 2 == 0 ? MilterCommand.Body : MilterCommand.Header))!;
                var phase = SessionPhase.Header;
                if (SessionOrder.IsAllowed(rule, ref phase, MilterProtocolFlags.NoMail, out _) && rule.Reply.Expected(MilterProtocolFlags.None))
                    allowed++;
            }
            _ = CommandTable.Name(body.Code);
        }
    }
}
