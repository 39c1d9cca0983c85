namespace Milter.Protocol;

/// <summary>Per-connection facts a handler may read: identity, negotiated options and the macros the MTA sent.</summary>
public sealed class MilterContext
{
    private readonly Dictionary<string, string> _connectionMacros = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _messageMacros = new(StringComparer.Ordinal);

    public MilterContext(long connectionId) => ConnectionId = connectionId;

    /// <summary>A number unique within this process, for log lines.</summary>
    public long ConnectionId { get; }
    /// <summary>The protocol version the MTA offered (2 to 6).</summary>
    public uint ProtocolVersion { get; internal set; }
    /// <summary>Negotiated SMFIF_* action flags.</summary>
    public MilterActions Actions { get; internal set; }
    /// <summary>Negotiated SMFIP_* protocol flags.</summary>
    public MilterProtocolFlags ProtocolFlags { get; internal set; }
    /// <summary>Number of the current message on this connection (1 for the first MAIL).</summary>
    public int MessageNumber { get; internal set; }

    /// <summary>A macro's value ("i", "{auth_type}", "j" ...), from any stage seen so far on this connection
    /// (message-stage macros are forgotten when the message ends or is aborted). Names may be given with or without braces.</summary>
    public string? GetMacro(string name)
    {
        var key = Normalize(name);
        if (_messageMacros.TryGetValue(key, out var v)) return v;
        return _connectionMacros.TryGetValue(key, out v) ? v : null;
    }

    internal void SetMacro(string name, string value, bool messageScope)
        => (messageScope ? _messageMacros : _connectionMacros)[Normalize(name)] = value;

    internal void ClearMessageMacros() => _messageMacros.Clear();

    /// <summary>A new SMTP session on the same milter connection (SMFIC_QUIT_NC): every macro is forgotten.</summary>
    internal void ClearConnectionMacros()
    {
        _connectionMacros.Clear();
        _messageMacros.Clear();
    }

    private static string Normalize(string name)
        => name.Length > 2 && name[0] == '{' && name[^1] == '}' ? name[1..^1] : name;
}
