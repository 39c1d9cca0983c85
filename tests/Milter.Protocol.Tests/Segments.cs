using System.Buffers;

namespace Milter.Protocol.Tests;

/// <summary>Builds a ReadOnlySequence out of several segments (to split buffers anywhere).</summary>
public static class Segments
{
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var nonEmpty = parts.Length == 0 ? [Array.Empty<byte>()] : parts;
        var first = new Segment(nonEmpty[0], 0);
        var last = first;
        for (var i = 1; i < nonEmpty.Length; i++) last = last.Append(nonEmpty[i]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, long runningIndex) { Memory = data; RunningIndex = runningIndex; }
        public Segment Append(byte[] data)
        {
            var next = new Segment(data, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
