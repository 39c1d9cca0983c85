using System.Buffers;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// Line splitting shared by the simple and relaxed body canonicalizers. A line ends at CRLF or at a bare
/// LF (written as CRLF, as the message is taken to be in network normal form, RFC 6376 5.3). A CR that is
/// not followed by LF is ordinary line content. A CR at the end of a chunk is held until the next byte.
/// </summary>
public abstract class BodyCanonicalizer : IBodyCanonicalizer
{
    private const int CrlfBlockLines = 64;
    private static readonly byte[] CrlfBlock = MakeCrlfBlock();
    private static readonly byte[] CrByte = [(byte)'\r'];

    private readonly ICanonicalOutput _output;
    private bool _pendingCr;
    private long _pendingEmptyLines;
    private bool _completed;

    protected BodyCanonicalizer(ICanonicalOutput output) => _output = output;

    /// <summary>True once the current line has produced output.</summary>
    protected bool LineHasContent { get; set; }

    /// <summary>True once any byte was written.</summary>
    protected bool WroteAny { get; private set; }

    public static IBodyCanonicalizer Create(DkimCanonicalization canonicalization, ICanonicalOutput output) =>
        canonicalization == DkimCanonicalization.Relaxed
            ? new RelaxedBodyCanonicalizer(output)
            : new SimpleBodyCanonicalizer(output);

    public void Append(ReadOnlySpan<byte> chunk)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The body canonicalizer is already complete.");
        }
        if (chunk.IsEmpty)
        {
            return;
        }
        int i = 0;
        if (_pendingCr)
        {
            _pendingCr = false;
            if (chunk[0] == (byte)'\n')
            {
                EndLine();
                i = 1;
            }
            else
            {
                LineContent(CrByte);
            }
        }
        while (i < chunk.Length)
        {
            ReadOnlySpan<byte> rest = chunk[i..];
            int j = rest.IndexOfAny((byte)'\r', (byte)'\n');
            if (j < 0)
            {
                LineContent(rest);
                return;
            }
            if (j > 0)
            {
                LineContent(rest[..j]);
            }
            if (rest[j] == (byte)'\n')
            {
                EndLine();
                i += j + 1;
            }
            else if (j + 1 == rest.Length)
            {
                _pendingCr = true;
                return;
            }
            else if (rest[j + 1] == (byte)'\n')
            {
                EndLine();
                i += j + 2;
            }
            else
            {
                LineContent(CrByte);
                i += j + 1;
            }
        }
    }

    public void Complete()
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        if (_pendingCr)
        {
            _pendingCr = false;
            LineContent(CrByte);
        }
        FinishBody();
    }

    /// <summary>Bytes of one line (never containing a line break; may be called several times per line).</summary>
    protected abstract void LineContent(ReadOnlySpan<byte> content);

    /// <summary>Writes what the algorithm needs at the end of the body.</summary>
    protected abstract void FinishBody();

    protected virtual void EndLine()
    {
        if (LineHasContent)
        {
            WriteCrlf();
            LineHasContent = false;
        }
        else
        {
            _pendingEmptyLines++;
        }
    }

    /// <summary>Called before the first output of a line: empty lines held back are real, write them.</summary>
    protected void StartLine()
    {
        LineHasContent = true;
        while (_pendingEmptyLines > 0)
        {
            int n = (int)Math.Min(_pendingEmptyLines, CrlfBlockLines);
            Write(CrlfBlock.AsSpan(0, n * 2));
            _pendingEmptyLines -= n;
        }
    }

    protected void WriteCrlf() => Write(CrlfBlock.AsSpan(0, 2));

    protected void Write(ReadOnlySpan<byte> bytes)
    {
        WroteAny = true;
        _output.Write(bytes);
    }

    private static byte[] MakeCrlfBlock()
    {
        var block = new byte[CrlfBlockLines * 2];
        for (int i = 0; i < block.Length; i += 2)
        {
            block[i] = (byte)'\r';
            block[i + 1] = (byte)'\n';
        }
        return block;
    }

    /// <summary>SP and HTAB, the WSP of RFC 5234.</summary>
    internal static readonly SearchValues<byte> Wsp = SearchValues.Create(" \t"u8);
}

/// <summary>"simple" body canonicalization (RFC 6376 3.4.3): only trailing empty lines are removed; an empty
/// body becomes a single CRLF; a last line without CRLF gets one.</summary>
public sealed class SimpleBodyCanonicalizer : BodyCanonicalizer
{
    public SimpleBodyCanonicalizer(ICanonicalOutput output) : base(output)
    {
    }

    protected override void LineContent(ReadOnlySpan<byte> content)
    {
        if (!LineHasContent)
        {
            StartLine();
        }
        Write(content);
    }

    protected override void FinishBody()
    {
        if (LineHasContent || !WroteAny)
        {
            WriteCrlf();
        }
    }
}

/// <summary>"relaxed" body canonicalization (RFC 6376 3.4.4): whitespace at line ends is removed, runs of
/// whitespace become one SP, trailing empty lines are removed, an empty body stays empty.</summary>
public sealed class RelaxedBodyCanonicalizer : BodyCanonicalizer
{
    private static readonly byte[] Space = [(byte)' '];
    private bool _pendingWsp;

    public RelaxedBodyCanonicalizer(ICanonicalOutput output) : base(output)
    {
    }

    protected override void LineContent(ReadOnlySpan<byte> content)
    {
        while (!content.IsEmpty)
        {
            int start = content.IndexOfAnyExcept(Wsp);
            if (start != 0)
            {
                _pendingWsp = true;
                if (start < 0)
                {
                    return;
                }
                content = content[start..];
            }
            // content[0] is not WSP. Extend the run over whitespace that is already canonical (one SP between
            // two non-WSP bytes), so ordinary text is written in one piece.
            int end = 0;
            while (true)
            {
                int ws = content[end..].IndexOfAny(Wsp);
                if (ws < 0)
                {
                    end = content.Length;
                    break;
                }
                end += ws;
                if (content[end] == (byte)' ' && end + 1 < content.Length && !Wsp.Contains(content[end + 1]))
                {
                    end++;
                    continue;
                }
                break;
            }
            if (!LineHasContent)
            {
                StartLine();
            }
            if (_pendingWsp)
            {
                Write(Space);
                _pendingWsp = false;
            }
            Write(content[..end]);
            content = content[end..];
        }
    }

    protected override void EndLine()
    {
        _pendingWsp = false;
        base.EndLine();
    }

    protected override void FinishBody()
    {
        if (LineHasContent)
        {
            WriteCrlf();
        }
    }
}
