using Microsoft.Extensions.Logging;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public class SessionEdgeTests
{
    private static Task Mail(SessionHarness h) => h.SendAsync(MilterCommand.Mail, b => b.WriteCString("<a@example.org>"));

    [Fact]
    public async Task Helo_may_come_first_when_connect_was_negotiated_away()
    {
        var handler = new RecordingHandler { Caps = new MilterCapabilities { Stages = MilterStages.All & ~MilterStages.Connect } };
        await using var h = new SessionHarness(handler);
        var n = await h.NegotiateAsync(flags: MilterProtocolFlags.NoConnect);
        Assert.True(n.Has(MilterProtocolFlags.NoConnect));
        await h.SendAsync(MilterCommand.Helo, b => b.WriteCString("client"));
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
        Assert.Equal(["helo client"], handler.Calls);
    }

    [Fact]
    public async Task Rcpt_may_start_the_message_when_mail_was_negotiated_away()
    {
        var handler = new RecordingHandler { Caps = new MilterCapabilities { Stages = MilterStages.All & ~MilterStages.MailFrom } };
        await using var h = new SessionHarness(handler);
        await h.NegotiateAsync(flags: MilterProtocolFlags.NoMail);
        await h.SendAsync(MilterCommand.Connect, b => b.WriteCString("c").WriteByte((byte)'U'));
        await h.ReplyAsync();
        await h.SendAsync(MilterCommand.Rcpt, b => b.WriteCString("<x@y>"));
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
        await h.SendAsync(MilterCommand.BodyEob);
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
        Assert.Equal(1, handler.LastContext!.MessageNumber);
    }

    [Fact]
    public async Task Stage_not_wanted_is_answered_continue_without_calling_the_handler()
    {
        var handler = new RecordingHandler { Caps = new MilterCapabilities { Stages = MilterStages.Connect } };
        await using var h = new SessionHarness(handler);
        await h.NegotiateAsync(flags: MilterProtocolFlags.None); // the MTA cannot skip anything
        await h.SendAsync(MilterCommand.Connect, b => b.WriteCString("c").WriteByte((byte)'U'));
        await h.ReplyAsync();
        await h.SendAsync(MilterCommand.Helo, b => b.WriteCString("x"));
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
        Assert.Equal(["connect c Unknown 0 "], handler.Calls);
    }

    [Fact]
    public async Task Bodyeob_with_data_passes_the_last_chunk_first()
    {
        var handler = new RecordingHandler();
        await using var h = new SessionHarness(handler);
        await h.NegotiateAsync(flags: MilterProtocolFlags.None);
        await h.SendAsync(MilterCommand.Connect, b => b.WriteCString("c").WriteByte((byte)'U'));
        await h.ReplyAsync();
        await Mail(h); await h.ReplyAsync();
        await h.SendAsync(MilterCommand.BodyEob, b => b.WriteBytes("tail\r\n"u8));
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
        Assert.Equal(["connect c Unknown 0 ", "mail <a@example.org> ", "body 6", "eom"], handler.Calls);
    }

    [Fact]
    public async Task Handler_ignoring_cancellation_is_abandoned_and_the_connection_survives()
    {
        var handler = new StubbornHandler();
        await using var h = new SessionHarness(handler, new MilterServerOptions { HandlerTimeout = TimeSpan.FromMilliseconds(100), ProgressInterval = TimeSpan.FromSeconds(5) });
        await h.NegotiateAsync(flags: MilterProtocolFlags.None);
        await h.SendAsync(MilterCommand.Connect, b => b.WriteCString("c").WriteByte((byte)'U'));
        Assert.Equal(MilterResponseCode.Tempfail, await h.ReplyAsync());
        Assert.True(h.Logs.Has(LogLevel.Error, "ignored cancellation"));
        await h.SendAsync(MilterCommand.QuitNewConnection);
        handler.Stubborn = false;
        await h.SendAsync(MilterCommand.Connect, b => b.WriteCString("c").WriteByte((byte)'U'));
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
        Assert.Equal(0, handler.Overlaps);
    }

    private sealed class StubbornHandler : MilterHandlerBase
    {
        private int _running;
        public volatile bool Stubborn = true;
        public int Overlaps;
        public override async ValueTask<MilterResponse> OnConnectAsync(MilterContext context, ConnectInfo info, CancellationToken ct)
        {
            if (Interlocked.Increment(ref _running) > 1) Interlocked.Increment(ref Overlaps);
            try
            {
                if (Stubborn) await Task.Delay(1500, CancellationToken.None);
                return MilterResponse.Continue;
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    [Fact]
    public async Task Progress_from_the_modifier_reaches_the_mta_before_the_reply()
    {
        var handler = new ProgressHandler();
        await using var h = new SessionHarness(handler);
        await h.NegotiateAsync(flags: MilterProtocolFlags.None);
        await h.SendAsync(MilterCommand.Connect, b => b.WriteCString("c").WriteByte((byte)'U'));
        await h.ReplyAsync();
        await Mail(h); await h.ReplyAsync();
        await h.SendAsync(MilterCommand.BodyEob);
        Assert.Equal(MilterResponseCode.Progress, await h.ReplyAsync());
        Assert.Equal(MilterResponseCode.AddHeader, await h.ReplyAsync());
        Assert.Equal(MilterResponseCode.Continue, await h.ReplyAsync());
    }

    private sealed class ProgressHandler : MilterHandlerBase
    {
        public override async ValueTask<MilterResponse> OnEndOfMessageAsync(MilterContext context, IMessageModifier modifier, CancellationToken ct)
        {
            modifier.AddHeader("X-A", "1");
            await modifier.ProgressAsync(ct);
            return MilterResponse.Continue;
        }
    }

    [Fact]
    public void Modifier_checks_each_action_flag_and_splits_replbody()
    {
        using var batch = new FrameBuilder();
        var m = new MessageModifier(batch, _ => ValueTask.CompletedTask);
        Assert.Throws<InvalidOperationException>(() => m.AddHeader("X", "y"));
        m.Begin(MilterActions.AddHeaders);
        Assert.Throws<InvalidOperationException>(() => m.ChangeHeader("X", 1, "y"));
        Assert.Throws<InvalidOperationException>(() => m.ReplaceBody(new byte[1]));
        Assert.Throws<InvalidOperationException>(() => m.Quarantine("r"));
        Assert.Throws<InvalidOperationException>(() => m.ChangeSender("<a@b>"));
        Assert.Throws<InvalidOperationException>(() => m.AddRecipient("<a@b>"));
        Assert.Throws<InvalidOperationException>(() => m.DeleteRecipient("<a@b>"));
        Assert.Throws<ArgumentException>(() => m.AddHeader("Bad Name", "y"));
        Assert.Throws<ArgumentException>(() => m.AddHeader("X", "nul\0"));
        Assert.Equal(0, batch.Length); // refused calls leave nothing behind
        m.Close();

        m.Begin(Negotiation.AllActions);
        m.ReplaceBody(new byte[70_000]);
        var buffer = new System.Buffers.ReadOnlySequence<byte>(batch.WrittenMemory);
        var sizes = new List<long>();
        while (MilterFrameReader.TryReadFrame(ref buffer, 1 << 20, out var f, out _) == FrameReadStatus.Complete) sizes.Add(f.Data.Length);
        Assert.Equal([65535L, 70_000L - 65535], sizes);
    }

    [Fact]
    public void Modifier_refuses_add_recipient_with_args_without_addrcpt_par()
    {
        using var batch = new FrameBuilder();
        var m = new MessageModifier(batch, _ => ValueTask.CompletedTask);
        m.Begin(MilterActions.AddRecipient);
        m.AddRecipient("<a@b>");
        Assert.Throws<InvalidOperationException>(() => m.AddRecipient("<a@b>", "NOTIFY=NEVER"));
        Assert.Equal(1, m.Count);
    }
}
