namespace Milter.Commands;

/// <summary>Thrown for bad usage: exit code 2 with the message on stderr.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
    public UsageException() { }
    public UsageException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A small parser for "--name value", "--name=value" and "--flag" options. Options may repeat.</summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLine(string command, IReadOnlyList<string> args, IReadOnlySet<string> flagNames)
    {
        Command = command;
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length < 3)
                throw new UsageException($"{command}: unexpected argument '{a}'");
            var name = a[2..];
            string? value = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            if (flagNames.Contains(name))
            {
                if (value is not null) throw new UsageException($"{command}: --{name} takes no value");
                _flags.Add(name);
                continue;
            }
            if (value is null)
            {
                if (i + 1 >= args.Count) throw new UsageException($"{command}: --{name} needs a value");
                value = args[++i];
            }
            if (!_values.TryGetValue(name, out var list)) _values[name] = list = new List<string>();
            list.Add(value);
        }
    }

    public string Command { get; }

    public bool Flag(string name) { _used.Add(name); return _flags.Contains(name); }

    public string? Get(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var l) ? l[^1] : null;
    }

    public string Require(string name) => Get(name) ?? throw new UsageException($"{Command}: --{name} is required");

    public IReadOnlyList<string> GetAll(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var l) ? l : [];
    }

    public int GetInt(string name, int defaultValue, int min, int max)
    {
        var s = Get(name);
        if (s is null) return defaultValue;
        if (!int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"{Command}: --{name} must be a number from {min} to {max}, not '{s}'");
        return v;
    }

    /// <summary>Call after reading every option: unknown options are usage errors.</summary>
    public void EnsureAllUsed()
    {
        foreach (var k in _values.Keys.Concat(_flags))
        {
            if (!_used.Contains(k)) throw new UsageException($"{Command}: unknown option --{k}");
        }
    }
}
