using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Milter.Protocol;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.Protocol.Wire;

namespace Milter.Fuzz;

/// <summary>Targets in Milter.Protocol: the frame codec and the session state machine.</summary>
public static class ProtocolTargets
{
    /// <summary>Small enough that AFL reaches the TooLarge answer; large enough for real frames.</summary>
    private const int MaxFrameSize = 64 * 1024;

    /// <summary>
    /// Frame codec: splits the input into frames (MilterFrameReader), once from one block and once from
    /// 3-byte segments (both must give the same frames); every frame must rebuild byte for byte with
    /// FrameBuilder; its data is read with PayloadReader as C strings and as an OPTNEG, and what parses
    /// must write back (FrameBuilder.WriteCString, Negotiation.WriteReply) and parse to the same values.
    /// </summary>
    public static void Frame(byte[] input)
    {
        var whole = ReadFrames(new ReadOnlySequence<byte>(input), out var wholeEnd);
        var chunked = ReadFrames(Segments.Of(input, 3), out var chunkedEnd);
        FuzzCheck.That(wholeEnd == chunkedEnd && whole.Count == chunked.Count, "segmented input read differently");
        var offset = 0;
        for (var i = 0; i < whole.Count; i++)
        {
            var (command, data) = whole[i];
            FuzzCheck.That(command == chunked[i].Command && data.AsSpan().SequenceEqual(chunked[i].Data), $"frame {i} differs when segmented");
            using var builder = new FrameBuilder(16);
            builder.Begin(command).WriteBytes(data).End();
            FuzzCheck.That(builder.WrittenSpan.SequenceEqual(input.AsSpan(offset, MilterFrameReader.HeaderSize + data.Length)), $"frame {i} does not rebuild");
            offset += MilterFrameReader.HeaderSize + data.Length;
            CheckCStrings(data);
            CheckOptNeg(data);
        }
    }

    private static List<(byte Command, byte[] Data)> ReadFrames(ReadOnlySequence<byte> buffer, out FrameReadStatus end)
    {
        var frames = new List<(byte, byte[])>();
        while ((end = MilterFrameReader.TryReadFrame(ref buffer, MaxFrameSize, out var frame, out var length)) == FrameReadStatus.Complete)
        {
            FuzzCheck.That(frame.Data.Length == length - 1, "frame data length differs from the length field");
            frames.Add((frame.Command, frame.Data.ToArray()));
        }
        return frames;
    }

    private static void CheckCStrings(byte[] data)
    {
        var reader = new PayloadReader(data);
        var raw = new List<byte[]>();
        while (reader.TryReadCStringBytes(out var bytes)) raw.Add(bytes.ToArray());
        using var builder = new FrameBuilder(16);
        foreach (var bytes in raw) builder.WriteCString(bytes);
        FuzzCheck.That(data.AsSpan().StartsWith(builder.WrittenSpan), "C strings do not rebuild");

        var listReader = new PayloadReader(data);
        if (!listReader.TryReadCStringList(out var strings)) return;
        FuzzCheck.That(strings.Count == raw.Count && builder.Length == data.Length, "C string list and raw C strings disagree");
        builder.Reset();
        foreach (var s in strings) builder.WriteCString(s);
        var again = new PayloadReader(builder.WrittenSpan);
        FuzzCheck.That(again.TryReadCStringList(out var reread) && reread.SequenceEqual(strings), "C string list does not round-trip");
    }

    private static void CheckOptNeg(byte[] data)
    {
        var parsed = Negotiation.Parse(data);
        if (parsed is null) return;
        using var builder = new FrameBuilder(16);
        Negotiation.WriteReply(builder, parsed);
        var reread = Negotiation.Parse(builder.WrittenSpan[MilterFrameReader.HeaderSize..]);
        FuzzCheck.That(reread is not null && reread.Version == parsed.Version && reread.Actions == parsed.Actions
            && reread.ProtocolFlags == parsed.ProtocolFlags && reread.Macros.Count == parsed.Macros.Count
            && parsed.Macros.All(kv => reread.Macros.TryGetValue(kv.Key, out var v) && v == kv.Value), "OPTNEG does not round-trip");
    }

    /// <summary>
    /// Session state machine: the input is what an MTA sends, fed to a MilterSession with a handler that
    /// continues at every stage, once read in one block and once 3 bytes at a time, then end of stream.
    /// The session must end by itself (a hang is AFL's timeout), never log an error (its catch-all for
    /// unexpected exceptions logs "session failed") and write only well-formed reply frames.
    /// </summary>
    public static void Session(byte[] input)
    {
        RunSession(input, readSize: 64 * 1024);
        RunSession(input, readSize: 3);
    }

    private static void RunSession(byte[] input, int readSize)
    {
        var reader = PipeReader.Create(new MemoryStream(input), new StreamPipeReaderOptions(bufferSize: readSize, minimumReadSize: readSize));
        using var output = new MemoryStream();
        var logger = new ErrorRecordingLogger();
        var options = new MilterServerOptions { MaxFrameSize = MaxFrameSize };
        using (var session = new MilterSession(new ContinueHandler(), reader, output, options, logger, 1))
            session.RunAsync(CancellationToken.None).GetAwaiter().GetResult();
        FuzzCheck.That(logger.Errors.Count == 0, "session logged an error: " + string.Join(" | ", logger.Errors));

        var replies = new ReadOnlySequence<byte>(output.ToArray());
        while (MilterFrameReader.TryReadFrame(ref replies, WireConstants.MaxReplyDataSize + 1, out var frame, out _) == FrameReadStatus.Complete)
            FuzzCheck.That(frame.Command == MilterCommand.OptNeg || MilterResponseCodes.IsDefined(frame.Command), $"reply with unknown code 0x{frame.Command:x2}");
        FuzzCheck.That(replies.Length == 0, "the replies end inside a frame (or one is too large)");
    }

    private sealed class ContinueHandler : MilterHandlerBase;

    /// <summary>Records log entries at Error and above (with their exception).</summary>
    private sealed class ErrorRecordingLogger : ILogger
    {
        public List<string> Errors { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error) Errors.Add(formatter(state, exception) + (exception is null ? "" : ": " + exception));
        }
    }
}

/// <summary>Builds a multi-segment sequence (frames that straddle segments take the slow paths).</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex) { Memory = memory; RunningIndex = runningIndex; }

    public static ReadOnlySequence<byte> Of(byte[] data, int size)
    {
        if (data.Length <= size) return new ReadOnlySequence<byte>(data);
        var first = new Segments(data.AsMemory(0, size), 0);
        var last = first;
        for (var start = size; start < data.Length; start += size)
        {
            var next = new Segments(data.AsMemory(start, Math.Min(size, data.Length - start)), start);
            last.Next = next;
            last = next;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
