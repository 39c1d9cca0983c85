namespace Milter.MailAuth.Dkim;

/// <summary>The tag values of a signature being made, everything but b=.</summary>
public sealed record DkimSignatureFields(
    string Algorithm,
    DkimCanonicalization HeaderCanonicalization,
    DkimCanonicalization BodyCanonicalization,
    string Domain,
    string Selector,
    long? Timestamp,
    long? Expiration,
    string? Identity,
    IReadOnlyList<string> SignedHeaderNames,
    string BodyHash);

/// <summary>A finished DKIM-Signature header field, to insert at the top of the message. The signature covers
/// exactly "DKIM-Signature: " + <see cref="Value"/> (a single space after the colon).</summary>
public sealed record DkimSignatureHeader(string Value)
{
    public const string FieldName = "DKIM-Signature";

    public string Name => FieldName;

    /// <summary>The whole field without the final CRLF.</summary>
    public string Field => FieldName + ": " + Value;

    /// <summary>The whole field with its final CRLF, as bytes (the value is ASCII).</summary>
    public byte[] ToFieldBytes() => System.Text.Encoding.ASCII.GetBytes(Field + "\r\n");
}

/// <summary>Result of signing: the header, or an error when the message cannot be signed.</summary>
public sealed record DkimSignResult(DkimSignatureHeader? Header, string? Error)
{
    public bool Success => Header is not null;
}
