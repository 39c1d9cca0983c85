namespace Milter.Configuration;

/// <summary>A configuration value that cannot be used. The message is one line naming the key and the value.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string key, string? value, string problem)
        : base($"config: {key} = \"{value}\": {problem}")
    {
        Key = key;
        Value = value;
    }

    public ConfigException(string message) : base(message) { Key = ""; }

    public ConfigException() : base("config error") { Key = ""; }

    public ConfigException(string message, Exception inner) : base(message, inner) { Key = ""; }

    public string Key { get; }
    public string? Value { get; }
}
