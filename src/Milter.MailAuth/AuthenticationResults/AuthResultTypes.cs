namespace Milter.MailAuth.AuthenticationResults;

/// <summary>
/// One RFC 8601 propspec: <c>ptype.property=value</c>, e.g. ("header", "d", "example.com") or
/// ("smtp", "mailfrom", "a@example.com"). The value is written quoted when the grammar requires it.
/// </summary>
public sealed record AuthResultProperty(string Type, string Name, string Value)
{
    /// <summary>Number of characters of a signature's b= tag carried in header.b (RFC 6008 section 4).</summary>
    public const int HeaderBLength = 8;

    /// <summary>
    /// header.b=: the first <see cref="HeaderBLength"/> characters of the signature's b= tag, folding
    /// whitespace removed (RFC 6008: enough to tell signatures of one message apart).
    /// </summary>
    public static AuthResultProperty HeaderB(string signatureB)
    {
        ArgumentNullException.ThrowIfNull(signatureB);
        Span<char> buffer = stackalloc char[HeaderBLength];
        int n = 0;
        foreach (char c in signatureB)
        {
            if (c is ' ' or '\t' or '\r' or '\n')
                continue;
            buffer[n++] = c;
            if (n == HeaderBLength)
                break;
        }
        return new AuthResultProperty("header", "b", new string(buffer[..n]));
    }
}

/// <summary>
/// One RFC 8601 resinfo clause: <c>method[/version]=result (comment) reason="..." ptype.property=value ...</c>.
/// </summary>
/// <param name="MethodVersion">The optional method-version (RFC 8601 section 2.2); written only when set.</param>
public sealed record AuthMethodResult(
    string Method,
    string Result,
    string? Reason = null,
    IReadOnlyList<AuthResultProperty>? Properties = null,
    string? Comment = null,
    int? MethodVersion = null);
