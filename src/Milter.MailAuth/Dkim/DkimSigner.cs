using System.Text;

namespace Milter.MailAuth.Dkim;

/// <summary>
/// A DKIM signer (RFC 6376 5, RFC 8463) configured once; thread-safe. Each message gets its own
/// <see cref="DkimSigningContext"/> from <see cref="CreateContext"/>.
/// </summary>
public sealed class DkimSigner
{
    /// <param name="options">configuration; invalid values throw <see cref="ArgumentException"/> here, once</param>
    public DkimSigner(DkimSignerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Key);
        Options = options;
        if (!IsDomainName(options.Domain))
        {
            throw new ArgumentException($"Invalid signing domain \"{options.Domain}\".", nameof(options));
        }
        if (!IsDomainName(options.Selector))
        {
            throw new ArgumentException($"Invalid selector \"{options.Selector}\".", nameof(options));
        }
        if (options.Identity is not null && !IsIdentityInDomain(options.Identity, options.Domain))
        {
            throw new ArgumentException(
                $"The identity (i=) \"{options.Identity}\" must be @{options.Domain} or a subdomain of it (RFC 6376 3.5).",
                nameof(options));
        }
        if (options.SignatureLifetime is TimeSpan life && life < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException("The signature lifetime must be at least one second.", nameof(options));
        }
        if (options.SignatureLifetime is not null && !options.IncludeTimestamp)
        {
            throw new ArgumentException("A signature lifetime (x=) needs the timestamp (t=).", nameof(options));
        }

        var names = new List<string>();
        var oversigned = new List<bool>();
        foreach (string name in options.SignedHeaders ?? DkimSignerOptions.DefaultSignedHeaders)
        {
            AddName(names, oversigned, name, over: false);
        }
        foreach (string name in options.OversignedHeaders ?? DkimSignerOptions.DefaultOversignedHeaders)
        {
            AddName(names, oversigned, name, over: true);
        }
        if (names.FindIndex(n => n.Equals("From", StringComparison.OrdinalIgnoreCase)) < 0)
        {
            throw new ArgumentException("The signed headers must include From (RFC 6376 5.4).", nameof(options));
        }
        HeaderNames = names.ToArray();
        HeaderNameBytes = Array.ConvertAll(HeaderNames, Encoding.ASCII.GetBytes);
        Oversigned = oversigned.ToArray();
    }

    public DkimSignerOptions Options { get; }

    /// <summary>Names of the headers to sign, each once, in h= order.</summary>
    internal string[] HeaderNames { get; }

    internal byte[][] HeaderNameBytes { get; }

    internal bool[] Oversigned { get; }

    /// <summary>Starts signing one message.</summary>
    public DkimSigningContext CreateContext() => new(this);

    /// <summary>Signs a whole message held in memory (CRLF line ends; see
    /// <see cref="RawMessageParser.NormalizeLineEndings"/> for files with bare LF).</summary>
    public DkimSignResult SignMessage(ReadOnlyMemory<byte> message)
    {
        RawMessage parsed = RawMessageParser.Parse(message);
        using DkimSigningContext context = CreateContext();
        foreach (RawHeaderField field in parsed.Headers)
        {
            context.AddHeader(field.Name.Span, field.Value.Span);
        }
        context.AppendBody(parsed.Body.Span);
        return context.Complete();
    }

    /// <summary>Signs a whole message and returns it with the DKIM-Signature field at the top.</summary>
    public byte[] SignMessageToBytes(ReadOnlyMemory<byte> message, out DkimSignResult result)
    {
        result = SignMessage(message);
        if (result.Header is null)
        {
            return message.ToArray();
        }
        byte[] field = result.Header.ToFieldBytes();
        byte[] output = new byte[field.Length + message.Length];
        field.CopyTo(output, 0);
        message.Span.CopyTo(output.AsSpan(field.Length));
        return output;
    }

    private static void AddName(List<string> names, List<bool> oversigned, string name, bool over)
    {
        if (string.IsNullOrEmpty(name) || !IsFieldName(name))
        {
            throw new ArgumentException($"Invalid header field name \"{name}\".");
        }
        int index = names.FindIndex(n => n.Equals(name, StringComparison.OrdinalIgnoreCase));
        if (index < 0)
        {
            names.Add(name);
            oversigned.Add(over);
        }
        else if (over)
        {
            oversigned[index] = true;
        }
    }

    /// <summary>field-name = 1*ftext, printable US-ASCII except ':' (RFC 5322 3.6.8).</summary>
    private static bool IsFieldName(string name)
    {
        foreach (char c in name)
        {
            if (c is < '!' or > '~' or ':')
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsDomainName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 253 || name[0] == '.' || name[^1] == '.' || name.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsIdentityInDomain(string identity, string domain)
    {
        int at = identity.LastIndexOf('@');
        if (at < 0)
        {
            return false;
        }
        foreach (char c in identity)
        {
            if (c is < '!' or > '~' or ';')
            {
                return false; // must fit in a tag value as plain ASCII
            }
        }
        string idDomain = identity[(at + 1)..];
        return idDomain.Equals(domain, StringComparison.OrdinalIgnoreCase)
               || idDomain.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase);
    }
}
