namespace Milter.Protocol;

/// <summary>Per-connection facts a handler may read: identity, negotiated options and the macros the MTA sent.</summary>
public sealed class MilterContext
{
    /// <summary>Most macros kept per scope (connection, message). Postfix sends about 15 in all with its default
    /// milter_*_macros; the cap only stops a client that sends new names without end.</summary>
    internal const int MaxMacrosPerScope = 64;
    /// <summary>Most characters (names plus values) kept per scope.</summary>
    internal const int MaxMacroCharsPerScope = 16 * 1024;

    private readonly MacroScope _connectionMacros = new();
    private readonly MacroScope _messageMacros = new();

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
        if (_messageMacros.Values.TryGetValue(key, out var v)) return v;
        return _connectionMacros.Values.TryGetValue(key, out v) ? v : null;
    }

    /// <summary>Stores a macro; false (and nothing stored) when the scope is full: a new name past
    /// <see cref="MaxMacrosPerScope"/>, or past <see cref="MaxMacroCharsPerScope"/> characters in all.</summary>
    internal bool SetMacro(string name, string value, bool messageScope)
        => (messageScope ? _messageMacros : _connectionMacros).TrySet(Normalize(name), value);

    /// <summary>Macros held now in one scope, and their characters (names plus values): for the bound's tests.</summary>
    internal (int Count, int Chars) MacroUsage(bool messageScope)
    {
        var scope = messageScope ? _messageMacros : _connectionMacros;
        return (scope.Values.Count, scope.Chars);
    }

    internal void ClearMessageMacros() => _messageMacros.Clear();

    /// <summary>A new SMTP session on the same milter connection (SMFIC_QUIT_NC): every macro is forgotten.</summary>
    internal void ClearConnectionMacros()
    {
        _connectionMacros.Clear();
        _messageMacros.Clear();
    }

    private sealed class MacroScope
    {
        public readonly Dictionary<string, string> Values = new(StringComparer.Ordinal);
        public int Chars;

        public bool TrySet(string name, string value)
        {
            var had = Values.TryGetValue(name, out var old);
            var chars = Chars - (had ? name.Length + old!.Length : 0) + name.Length + value.Length;
            if ((!had && Values.Count >= MaxMacrosPerScope) || chars > MaxMacroCharsPerScope) return false;
            Values[name] = value;
            Chars = chars;
            return true;
        }

        public void Clear()
        {
            Values.Clear();
            Chars = 0;
        }
    }

    private static string Normalize(string name)
        => name.Length > 2 && name[0] == '{' && name[^1] == '}' ? name[1..^1] : name;
}
