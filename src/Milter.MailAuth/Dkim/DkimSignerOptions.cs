namespace Milter.MailAuth.Dkim;

/// <summary>Configuration of a <see cref="DkimSigner"/>; validated once when the signer is built.</summary>
public sealed class DkimSignerOptions
{
    /// <summary>Headers signed when present (From first: RFC 6376 5.4 requires it).</summary>
    public static readonly IReadOnlyList<string> DefaultSignedHeaders =
    [
        "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To", "References",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Id", "List-Help", "List-Unsubscribe",
        "List-Subscribe", "List-Post", "List-Owner", "List-Archive", "Sender",
    ];

    public static readonly IReadOnlyList<string> DefaultOversignedHeaders = ["From"];

    /// <summary>d= signing domain.</summary>
    public required string Domain { get; init; }

    /// <summary>s= selector.</summary>
    public required string Selector { get; init; }

    public required DkimPrivateKey Key { get; init; }

    public DkimCanonicalization HeaderCanonicalization { get; init; } = DkimCanonicalization.Relaxed;

    public DkimCanonicalization BodyCanonicalization { get; init; } = DkimCanonicalization.Relaxed;

    /// <summary>Names of headers to sign when present; null means <see cref="DefaultSignedHeaders"/>.</summary>
    public IReadOnlyList<string>? SignedHeaders { get; init; }

    /// <summary>Names listed in h= once more than they occur, so that none can be added later (RFC 6376 8.15);
    /// null means <see cref="DefaultOversignedHeaders"/>.</summary>
    public IReadOnlyList<string>? OversignedHeaders { get; init; }

    /// <summary>Optional i= (agent or user identifier); its domain must be d= or a subdomain of it.</summary>
    public string? Identity { get; init; }

    /// <summary>Optional signature lifetime: x= is t= plus this.</summary>
    public TimeSpan? SignatureLifetime { get; init; }

    /// <summary>Whether to write t= (on by default).</summary>
    public bool IncludeTimestamp { get; init; } = true;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Largest number of header fields kept for signing per message.</summary>
    public int MaxSignedHeaderFields { get; init; } = 1000;

    /// <summary>Largest total size of the header fields kept for signing per message.</summary>
    public int MaxSignedHeaderBytes { get; init; } = 1024 * 1024;

    /// <summary>Test hook: formats the field value, with an empty b= value, in another tag order/folding.</summary>
    internal Func<DkimSignatureFields, string>? FormatOverride { get; init; }
}
