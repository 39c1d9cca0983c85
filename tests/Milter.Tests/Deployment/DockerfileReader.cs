using System.Text.Json;

namespace Milter.Tests.Deployment;

/// <summary>The instructions of a Dockerfile: comments dropped, continuation lines joined; enough to read
/// COPY, VOLUME, EXPOSE, CMD, ENTRYPOINT and HEALTHCHECK for the consistency tests.</summary>
public sealed class DockerfileReader
{
    public DockerfileReader(string text)
    {
        var current = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0)) continue;
            if (line.EndsWith('\\')) { current += line[..^1] + " "; continue; }
            current += line;
            var space = current.IndexOf(' ', StringComparison.Ordinal);
            Instructions.Add((current[..space].ToUpperInvariant(), current[(space + 1)..].Trim()));
            current = "";
        }
    }

    public List<(string Name, string Args)> Instructions { get; } = [];

    public IEnumerable<string> All(string name) => Instructions.Where(i => i.Name == name).Select(i => i.Args);

    /// <summary>An instruction in exec form, e.g. CMD ["run", "--config", "/etc/milter/milter.json"].</summary>
    public static string[] ExecForm(string args) => JsonSerializer.Deserialize<string[]>(args)
        ?? throw new InvalidDataException($"not an exec-form array: {args}");

    public string[] Volumes => All("VOLUME").SelectMany(ExecForm).ToArray();

    public int[] ExposedPorts => All("EXPOSE").SelectMany(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The exec-form command of HEALTHCHECK ... CMD [...].</summary>
    public string[] HealthCheck => ExecForm(All("HEALTHCHECK").Single() is var h ? h[(h.IndexOf("CMD ", StringComparison.Ordinal) + 4)..] : "");

    /// <summary>COPY lines without --from: (source paths relative to the build context, destination).</summary>
    public IEnumerable<(string[] Sources, string Destination)> ContextCopies =>
        All("COPY").Where(a => !a.StartsWith("--from", StringComparison.Ordinal))
            .Select(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => (p[..^1], p[^1]));

    public string DestinationOf(string source) => ContextCopies.Single(c => c.Sources.Contains(source)).Destination;
}
