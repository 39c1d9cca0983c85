using System.Buffers;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

public class CodecTests
{
    private const int Max = 1 << 20;

    /// <summary>Every SMFIC_ command with representative data, and every SMFIR_ response.</summary>
    public static TheoryData<string> Frames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Samples.Keys) data.Add(name);
        return data;
    }

    private static readonly Dictionary<string, Action<FrameBuilder>> Samples = new()
    {
        ["SMFIC_OPTNEG"] = b => b.Begin(MilterCommand.OptNeg).WriteUInt32(6).WriteUInt32(0x1FF).WriteUInt32(0x1FFFFF).End(),
        ["SMFIC_MACRO"] = b => b.Begin(MilterCommand.Macro).WriteByte(MilterCommand.Connect).WriteCString("j").WriteCString("mx.example").WriteCString("{daemon_name}").WriteCString("smtpd").End(),
        ["SMFIC_CONNECT"] = b => b.Begin(MilterCommand.Connect).WriteCString("client.example").WriteByte((byte)'4').WriteUInt16(25).WriteCString("192.0.2.1").End(),
        ["SMFIC_HELO"] = b => b.Begin(MilterCommand.Helo).WriteCString("client.example").End(),
        ["SMFIC_MAIL"] = b => b.Begin(MilterCommand.Mail).WriteCString("<a@example.org>").WriteCString("SIZE=100").WriteCString("BODY=8BITMIME").End(),
        ["SMFIC_RCPT"] = b => b.Begin(MilterCommand.Rcpt).WriteCString("<b@example.net>").End(),
        ["SMFIC_DATA"] = b => b.Add(MilterCommand.Data),
        ["SMFIC_HEADER"] = b => b.Begin(MilterCommand.Header).WriteCString("Subject").WriteCString(" hello\r\n world").End(),
        ["SMFIC_EOH"] = b => b.Add(MilterCommand.EndOfHeaders),
        ["SMFIC_BODY"] = b => b.Begin(MilterCommand.Body).WriteBytes("line one\r\nline two\r\n"u8).End(),
        ["SMFIC_BODYEOB"] = b => b.Add(MilterCommand.BodyEob),
        ["SMFIC_ABORT"] = b => b.Add(MilterCommand.Abort),
        ["SMFIC_UNKNOWN"] = b => b.Begin(MilterCommand.Unknown).WriteCString("XFOO bar").End(),
        ["SMFIC_QUIT"] = b => b.Add(MilterCommand.Quit),
        ["SMFIC_QUIT_NC"] = b => b.Add(MilterCommand.QuitNewConnection),
        ["SMFIR_OPTNEG"] = b => Negotiation.WriteReply(b, new NegotiatedOptions(6, MilterActions.AddHeaders, MilterProtocolFlags.Skip,
            new Dictionary<MacroStage, string> { [MacroStage.MailFrom] = "{auth_type} i" })),
        ["SMFIR_ADDRCPT"] = b => b.Begin(MilterResponseCode.AddRecipient).WriteCString("<c@example>").End(),
        ["SMFIR_DELRCPT"] = b => b.Begin(MilterResponseCode.DeleteRecipient).WriteCString("<c@example>").End(),
        ["SMFIR_ADDRCPT_PAR"] = b => b.Begin(MilterResponseCode.AddRecipientWithArgs).WriteCString("<c@example>").WriteCString("NOTIFY=NEVER").End(),
        ["SMFIR_SHUTDOWN"] = b => b.Add((byte)MilterResponseCode.Shutdown),
        ["SMFIR_ACCEPT"] = b => b.Add((byte)MilterResponseCode.Accept),
        ["SMFIR_REPLBODY"] = b => b.Begin(MilterResponseCode.ReplaceBody).WriteBytes("new body\r\n"u8).End(),
        ["SMFIR_CONTINUE"] = b => b.Add((byte)MilterResponseCode.Continue),
        ["SMFIR_DISCARD"] = b => b.Add((byte)MilterResponseCode.Discard),
        ["SMFIR_CHGFROM"] = b => b.Begin(MilterResponseCode.ChangeFrom).WriteCString("<new@example>").WriteCString("SIZE=1").End(),
        ["SMFIR_CONN_FAIL"] = b => b.Add((byte)MilterResponseCode.ConnectionFail),
        ["SMFIR_ADDHEADER"] = b => b.Begin(MilterResponseCode.AddHeader).WriteCString("X-Test").WriteCString("yes").End(),
        ["SMFIR_INSHEADER"] = b => b.Begin(MilterResponseCode.InsertHeader).WriteUInt32(0).WriteCString("Authentication-Results").WriteCString("mx; none").End(),
        ["SMFIR_CHGHEADER"] = b => b.Begin(MilterResponseCode.ChangeHeader).WriteUInt32(2).WriteCString("Authentication-Results").WriteCString("").End(),
        ["SMFIR_PROGRESS"] = b => b.Add((byte)MilterResponseCode.Progress),
        ["SMFIR_QUARANTINE"] = b => b.Begin(MilterResponseCode.Quarantine).WriteCString("suspicious").End(),
        ["SMFIR_REJECT"] = b => b.Add((byte)MilterResponseCode.Reject),
        ["SMFIR_SKIP"] = b => b.Add((byte)MilterResponseCode.Skip),
        ["SMFIR_TEMPFAIL"] = b => b.Add((byte)MilterResponseCode.Tempfail),
        ["SMFIR_REPLYCODE"] = b => b.Begin(MilterResponseCode.ReplyCode).WriteCString("550 5.7.1 Rejected by DMARC policy").End(),
    };

    private static byte[] Build(string name)
    {
        using var b = new FrameBuilder(8);
        Samples[name](b);
        return b.WrittenSpan.ToArray();
    }

    private static void AssertParses(byte[] wire, ReadOnlySequence<byte> sequence)
    {
        var buffer = sequence;
        var status = MilterFrameReader.TryReadFrame(ref buffer, Max, out var frame, out var length);
        Assert.Equal(FrameReadStatus.Complete, status);
        Assert.Equal((uint)(wire.Length - 4), length);
        Assert.Equal(wire[4], frame.Command);
        Assert.Equal(wire[5..], frame.Data.ToArray());
        Assert.Equal(0, buffer.Length);
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Frame_whole(string name) => AssertParses(Build(name), new ReadOnlySequence<byte>(Build(name)));

    [Theory]
    [MemberData(nameof(Frames))]
    public void Frame_split_at_every_byte(string name)
    {
        var wire = Build(name);
        for (var i = 0; i <= wire.Length; i++)
            AssertParses(wire, Segments.Of(wire[..i], wire[i..]));
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Frame_split_in_three(string name)
    {
        var wire = Build(name);
        for (var i = 0; i <= wire.Length; i++)
            for (var j = i; j <= wire.Length; j++)
                AssertParses(wire, Segments.Of(wire[..i], wire[i..j], wire[j..]));
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void Every_prefix_needs_more_data_and_leaves_the_buffer(string name)
    {
        var wire = Build(name);
        for (var i = 0; i < wire.Length; i++)
        {
            var buffer = new ReadOnlySequence<byte>(wire, 0, i);
            Assert.Equal(FrameReadStatus.NeedMoreData, MilterFrameReader.TryReadFrame(ref buffer, Max, out _, out _));
            Assert.Equal(i, buffer.Length);
        }
    }

    [Fact]
    public void Two_frames_back_to_back()
    {
        var wire = Build("SMFIC_HELO").Concat(Build("SMFIC_MAIL")).ToArray();
        var buffer = new ReadOnlySequence<byte>(wire);
        Assert.Equal(FrameReadStatus.Complete, MilterFrameReader.TryReadFrame(ref buffer, Max, out var a, out _));
        Assert.Equal(FrameReadStatus.Complete, MilterFrameReader.TryReadFrame(ref buffer, Max, out var b, out _));
        Assert.Equal(MilterCommand.Helo, a.Command);
        Assert.Equal(MilterCommand.Mail, b.Command);
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void Length_zero_is_an_empty_frame()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 0, (byte)'H' });
        Assert.Equal(FrameReadStatus.EmptyFrame, MilterFrameReader.TryReadFrame(ref buffer, Max, out _, out var len));
        Assert.Equal(0u, len);
    }

    [Fact]
    public void Length_over_the_limit_is_too_large_before_the_data_arrives()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0x10, 0x01 });
        Assert.Equal(FrameReadStatus.TooLarge, MilterFrameReader.TryReadFrame(ref buffer, 4096, out _, out var len));
        Assert.Equal(0x1001u, len);
    }

    [Fact]
    public void Length_at_the_limit_is_accepted()
    {
        var wire = new byte[4 + 4096];
        wire[2] = 0x10; wire[4] = MilterCommand.Body;
        var buffer = new ReadOnlySequence<byte>(wire);
        Assert.Equal(FrameReadStatus.Complete, MilterFrameReader.TryReadFrame(ref buffer, 4096, out var f, out _));
        Assert.Equal(4095, f.Data.Length);
    }

    [Fact]
    public void Truncated_string_is_reported_not_thrown()
    {
        var r = new PayloadReader("abc"u8);
        Assert.False(r.TryReadCString(out _));
        Assert.Equal(3, r.Remaining);
        var list = new PayloadReader("a\0b"u8);
        Assert.False(list.TryReadCStringList(out _));
    }

    [Fact]
    public void Truncated_numbers_are_reported()
    {
        var r = new PayloadReader([1, 2, 3]);
        Assert.False(r.TryReadUInt32(out _));
        Assert.True(r.TryReadUInt16(out var v));
        Assert.Equal(0x0102, v);
        Assert.False(r.TryReadUInt16(out _));
    }

    [Fact]
    public void Connect_fields_parse()
    {
        var wire = Build("SMFIC_CONNECT");
        var r = new PayloadReader(wire.AsSpan(5));
        Assert.True(r.TryReadCString(out var host));
        Assert.True(r.TryReadByte(out var family));
        Assert.True(r.TryReadUInt16(out var port));
        Assert.True(r.TryReadCString(out var addr));
        Assert.Equal(("client.example", (byte)'4', (ushort)25, "192.0.2.1"), (host, family, port, addr));
        Assert.True(r.End);
    }

    [Fact]
    public void Builder_refuses_nul_in_strings()
        => Assert.Throws<ArgumentException>(() => new FrameBuilder().Begin(MilterCommand.Helo).WriteCString("a\0b"));

    [Fact]
    public void Builder_grows_and_keeps_frames()
    {
        using var b = new FrameBuilder(16);
        var big = new byte[100_000];
        b.Begin(MilterCommand.Body).WriteBytes(big).End();
        b.Add(MilterCommand.BodyEob);
        var buffer = new ReadOnlySequence<byte>(b.WrittenMemory);
        Assert.Equal(FrameReadStatus.Complete, MilterFrameReader.TryReadFrame(ref buffer, Max, out var f, out _));
        Assert.Equal(100_000, f.Data.Length);
        Assert.Equal(FrameReadStatus.Complete, MilterFrameReader.TryReadFrame(ref buffer, Max, out var g, out _));
        Assert.Equal(MilterCommand.BodyEob, g.Command);
    }

    [Fact]
    public void Simple_replies_are_five_bytes()
        => Assert.Equal(new byte[] { 0, 0, 0, 1, (byte)'c' }, WireConstants.SimpleReply(MilterResponseCode.Continue).ToArray());

    [Fact]
    public void Optneg_reply_round_trips_with_macros()
    {
        var parsed = Negotiation.Parse(Build("SMFIR_OPTNEG").AsSpan(5))!;
        Assert.Equal(6u, parsed.Version);
        Assert.Equal("{auth_type} i", parsed.Macros[MacroStage.MailFrom]);
        Assert.Null(Negotiation.Parse(new byte[] { 0, 0, 0, 6, 0, 0 }));
    }
}
