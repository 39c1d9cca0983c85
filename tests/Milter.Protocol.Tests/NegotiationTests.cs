using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public class NegotiationTests
{
    private const MilterProtocolFlags All = Negotiation.AllProtocolFlags;

    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(6u)]
    public async Task Versions_2_to_6_are_answered_with_a_subset(uint version)
    {
        // What older MTAs offer: v2 only the NO* flags of the first seven stages.
        var offered = version < 6 ? (MilterProtocolFlags)0x7F : All;
        var actions = version < 6 ? (MilterActions)0x3F : Negotiation.AllActions;
        var handler = new RecordingHandler { Caps = new MilterCapabilities { Stages = MilterStages.All & ~MilterStages.Helo } };
        await using var h = new SessionHarness(handler);
        var reply = await h.NegotiateAsync(version, actions, offered);
        Assert.Equal(version, reply.Version);
        Assert.Equal(reply.ProtocolFlags, reply.ProtocolFlags & offered);
        Assert.Equal(reply.Actions, reply.Actions & actions);
        Assert.True(reply.Has(MilterProtocolFlags.NoHelo));
        Assert.False(reply.Has(MilterProtocolFlags.NoConnect));
    }

    [Fact]
    public async Task Version_above_6_is_answered_with_6()
    {
        await using var h = new SessionHarness(new RecordingHandler());
        Assert.Equal(6u, (await h.NegotiateAsync(7)).Version);
    }

    [Fact]
    public async Task Version_1_closes_the_connection_with_a_log_line()
    {
        await using var h = new SessionHarness(new RecordingHandler());
        await h.SendAsync(MilterCommand.OptNeg, b => b.WriteUInt32(1).WriteUInt32(0).WriteUInt32(0));
        Assert.True(await h.EndedAsync());
        Assert.True(h.Logs.Has(Microsoft.Extensions.Logging.LogLevel.Warning, "OPTNEG"));
    }

    [Fact]
    public void No_flags_for_unwanted_stages_nr_flags_for_no_reply_stages()
    {
        var caps = new MilterCapabilities
        {
            Stages = MilterStages.Connect | MilterStages.MailFrom | MilterStages.Headers | MilterStages.Body,
            NoReplyStages = MilterStages.Headers | MilterStages.Connect,
        };
        var r = Negotiation.Negotiate(6, Negotiation.AllActions, All, caps);
        var f = r.ProtocolFlags;
        Assert.Equal(MilterProtocolFlags.NoHelo | MilterProtocolFlags.NoRcpt | MilterProtocolFlags.NoData | MilterProtocolFlags.NoEoh | MilterProtocolFlags.NoUnknown,
            f & (MilterProtocolFlags)0x37F);
        Assert.True(r.Has(MilterProtocolFlags.NoReplyHeader | MilterProtocolFlags.NoReplyConnect));
        Assert.False(r.Has(MilterProtocolFlags.NoReplyMail));
        Assert.True(r.Has(MilterProtocolFlags.Skip | MilterProtocolFlags.HeaderLeadingSpace));
        Assert.False(r.Has(MilterProtocolFlags.RcptRejected));
    }

    [Fact]
    public void Unwanted_stage_without_no_flag_offered_falls_back_to_no_reply()
    {
        var caps = new MilterCapabilities { Stages = MilterStages.All & ~MilterStages.Helo };
        var offered = All & ~MilterProtocolFlags.NoHelo;
        var r = Negotiation.Negotiate(6, Negotiation.AllActions, offered, caps);
        Assert.False(r.Has(MilterProtocolFlags.NoHelo));
        Assert.True(r.Has(MilterProtocolFlags.NoReplyHelo));
    }

    [Fact]
    public void Leading_space_and_skip_only_when_offered_and_wanted()
    {
        var none = Negotiation.Negotiate(6, Negotiation.AllActions, MilterProtocolFlags.None, MilterCapabilities.Default);
        Assert.Equal(MilterProtocolFlags.None, none.ProtocolFlags);
        var noLead = Negotiation.Negotiate(6, Negotiation.AllActions, All, new MilterCapabilities { HeaderLeadingSpace = false });
        Assert.False(noLead.Has(MilterProtocolFlags.HeaderLeadingSpace));
    }

    [Fact]
    public void Actions_are_the_intersection()
    {
        var caps = new MilterCapabilities { Actions = MilterActions.AddHeaders | MilterActions.ChangeBody | MilterActions.Quarantine };
        var r = Negotiation.Negotiate(6, MilterActions.AddHeaders | MilterActions.Quarantine, All, caps);
        Assert.Equal(MilterActions.AddHeaders | MilterActions.Quarantine, r.Actions);
    }

    private static readonly MilterCapabilities MacroCaps = new()
    {
        Macros = new Dictionary<MacroStage, IReadOnlyList<string>>
        {
            [MacroStage.Connect] = ["j", "{daemon_name}"],
            [MacroStage.MailFrom] = ["auth_type", "i"],
        },
    };

    [Fact]
    public async Task Macros_are_requested_when_the_mta_offers_setsymlist()
    {
        await using var h = new SessionHarness(new RecordingHandler { Caps = MacroCaps });
        var r = await h.NegotiateAsync();
        Assert.Equal("j {daemon_name}", r.Macros[MacroStage.Connect]);
        Assert.Equal("{auth_type} i", r.Macros[MacroStage.MailFrom]);
        Assert.True((r.Actions & MilterActions.SetSymbolList) != 0);
    }

    [Fact]
    public async Task Macros_are_not_requested_without_setsymlist()
    {
        await using var h = new SessionHarness(new RecordingHandler { Caps = MacroCaps });
        var r = await h.NegotiateAsync(actions: Negotiation.AllActions & ~MilterActions.SetSymbolList);
        Assert.Empty(r.Macros);
        Assert.Equal(MilterActions.None, r.Actions & MilterActions.SetSymbolList);
    }

    [Fact]
    public async Task Truncated_optneg_closes_with_a_log_line()
    {
        await using var h = new SessionHarness(new RecordingHandler());
        await h.SendAsync(MilterCommand.OptNeg, b => b.WriteUInt32(6).WriteUInt16(1));
        Assert.True(await h.EndedAsync());
        Assert.True(h.Logs.Has(Microsoft.Extensions.Logging.LogLevel.Warning, "truncated"));
    }
}
