using System.Diagnostics.Metrics;

namespace Milter.Tests.Metrics;

/// <summary>What the instruments of one <see cref="Meter"/> instance recorded, through a <see cref="MeterListener"/>
/// that sees that instance only (another test's meter of the same name is not heard).</summary>
internal sealed class MeasurementRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, string?> Tags)> _measurements = [];

    public MeasurementRecorder(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, string?>();
        foreach (var t in tags) copy[t.Key] = t.Value?.ToString();
        lock (_measurements) _measurements.Add((instrument.Name, value, copy));
    }

    /// <summary>Reads the observable instruments now.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>The measurements of <paramref name="instrument"/> whose tags include every one of <paramref name="tags"/> ("k=v").</summary>
    public IReadOnlyList<(double Value, Dictionary<string, string?> Tags)> Of(string instrument, params string[] tags)
    {
        lock (_measurements)
        {
            return _measurements.Where(m => m.Instrument == instrument && tags.All(t =>
                {
                    var (k, v) = (t[..t.IndexOf('=', StringComparison.Ordinal)], t[(t.IndexOf('=', StringComparison.Ordinal) + 1)..]);
                    return m.Tags.TryGetValue(k, out var actual) && actual == v;
                }))
                .Select(m => (m.Value, m.Tags)).ToList();
        }
    }

    /// <summary>The sum of the values of <see cref="Of"/>.</summary>
    public double Sum(string instrument, params string[] tags) => Of(instrument, tags).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
