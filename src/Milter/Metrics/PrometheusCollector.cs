using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Milter.Metrics;

/// <summary>
/// Listens to the instruments of one <see cref="Meter"/> (that instance only: another meter of the same name, in a test
/// next door, is not seen) and renders what they recorded in the Prometheus text exposition format 0.0.4. Counters are
/// summed, histograms kept as cumulative buckets (the instrument's advised boundaries), observable instruments read at
/// each <see cref="Render"/>. Names: the instrument name with '.' as '_', then "_seconds" for unit "s", then "_total"
/// for a counter (<see cref="PrometheusName"/>). A family keeps at most <see cref="MaxSeriesPerFamily"/> label sets;
/// measurements with more are dropped (the daemon's labels are bounded far below that).
/// </summary>
internal sealed class PrometheusCollector : IDisposable
{
    public const int MaxSeriesPerFamily = 1000;
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener;
    private readonly Lock _familiesLock = new();
    private readonly List<Family> _families = [];
    private readonly Lock _renderLock = new();

    public PrometheusCollector(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (!ReferenceEquals(instrument.Meter, meter)) return;
                var family = new Family(instrument);
                lock (_familiesLock) _families.Add(family);
                listener.EnableMeasurementEvents(instrument, family);
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>The Prometheus name of an instrument: dots to underscores, "_seconds" for unit s, "_total" for counters.</summary>
    public static string PrometheusName(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        if (instrument.Unit == "s" && !name.EndsWith("_seconds", StringComparison.Ordinal)) name += "_seconds";
        if (IsCounter(instrument) && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
        return name;
    }

    private static bool IsCounter(Instrument instrument)
    {
        var type = instrument.GetType();
        if (!type.IsGenericType) return false;
        var generic = type.GetGenericTypeDefinition();
        return generic == typeof(Counter<>) || generic == typeof(ObservableCounter<>);
    }

    /// <summary>Every family in the text format, observable instruments read now. One render at a time.</summary>
    public string Render()
    {
        lock (_renderLock)
        {
            Family[] families;
            lock (_familiesLock) families = [.. _families];
            foreach (var f in families) f.BeginObservation();
            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (var f in families) f.Write(text);
            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private enum Kind { Counter, Gauge, Histogram }

    /// <summary>One instrument: its metadata and a series per label set.</summary>
    private sealed class Family
    {
        private readonly Lock _lock = new();
        private readonly List<Series> _series = [];
        private readonly string _name;
        private readonly string? _help;
        private readonly Kind _kind;
        /// <summary>Observable instruments report their current value (a counter: its running total), not a delta.</summary>
        private readonly bool _observable;
        private readonly double[] _bounds = [];

        public Family(Instrument instrument)
        {
            _name = PrometheusName(instrument);
            _help = instrument.Description;
            _observable = instrument.IsObservable;
            if (instrument is Histogram<double> histogram)
            {
                _kind = Kind.Histogram;
                _bounds = histogram.Advice?.HistogramBucketBoundaries?.ToArray() ?? DefaultBuckets;
            }
            else
            {
                _kind = IsCounter(instrument) ? Kind.Counter : Kind.Gauge;
            }
        }

        /// <summary>Before the observable instruments are read: a gauge's label sets are those of this observation only.</summary>
        public void BeginObservation()
        {
            if (_observable && _kind == Kind.Gauge)
                lock (_lock) _series.Clear();
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_lock)
            {
                var series = Find(tags);
                if (series is null)
                {
                    if (_series.Count >= MaxSeriesPerFamily) return;
                    series = new Series(tags, _kind == Kind.Histogram ? _bounds.Length + 1 : 0);
                    _series.Add(series);
                }
                if (_kind == Kind.Histogram)
                {
                    var i = 0;
                    while (i < _bounds.Length && value > _bounds[i]) i++;
                    series.Buckets[i]++;
                    series.Count++;
                    series.Value += value;
                }
                else if (_observable)
                {
                    series.Value = value;
                }
                else
                {
                    series.Value += value;
                }
            }
        }

        private Series? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var s in _series)
            {
                if (s.Matches(tags)) return s;
            }
            return null;
        }

        public void Write(StringBuilder text)
        {
            if (_help is not null)
                text.Append("# HELP ").Append(_name).Append(' ').Append(EscapeHelp(_help)).Append('\n');
            text.Append("# TYPE ").Append(_name).Append(' ').Append(_kind switch
            {
                Kind.Counter => "counter",
                Kind.Histogram => "histogram",
                _ => "gauge",
            }).Append('\n');
            lock (_lock)
            {
                foreach (var s in _series)
                {
                    if (_kind != Kind.Histogram)
                    {
                        Sample(text, _name, s, null, s.Value);
                        continue;
                    }
                    long cumulative = 0;
                    for (var i = 0; i < _bounds.Length; i++)
                    {
                        cumulative += s.Buckets[i];
                        Sample(text, _name + "_bucket", s, Number(_bounds[i]), cumulative);
                    }
                    Sample(text, _name + "_bucket", s, "+Inf", s.Count);
                    Sample(text, _name + "_sum", s, null, s.Value);
                    Sample(text, _name + "_count", s, null, s.Count);
                }
            }
        }

        private static void Sample(StringBuilder text, string name, Series s, string? le, double value)
        {
            text.Append(name);
            if (s.Keys.Length > 0 || le is not null)
            {
                text.Append('{');
                for (var i = 0; i < s.Keys.Length; i++)
                {
                    if (i > 0) text.Append(',');
                    text.Append(s.Keys[i]).Append("=\"").Append(EscapeLabel(s.Labels[i])).Append('"');
                }
                if (le is not null)
                    text.Append(s.Keys.Length > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
                text.Append('}');
            }
            text.Append(' ').Append(Number(value)).Append('\n');
        }
    }

    /// <summary>One label set: names sorted, the values as recorded (compared with Equals, so no string is made per call).</summary>
    private sealed class Series
    {
        public Series(ReadOnlySpan<KeyValuePair<string, object?>> tags, int buckets)
        {
            var pairs = tags.ToArray();
            Array.Sort(pairs, (a, b) => string.CompareOrdinal(a.Key, b.Key));
            Keys = pairs.Select(p => LabelName(p.Key)).ToArray();
            Names = pairs.Select(p => p.Key).ToArray();
            Values = pairs.Select(p => p.Value).ToArray();
            Labels = pairs.Select(p => Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "").ToArray();
            Buckets = new long[buckets];
        }

        public string[] Keys { get; }
        private string[] Names { get; }
        private object?[] Values { get; }
        public string[] Labels { get; }
        public long[] Buckets { get; }
        public long Count { get; set; }
        /// <summary>The counter's total, the gauge's value, or the histogram's sum.</summary>
        public double Value { get; set; }

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length != Names.Length) return false;
            foreach (var tag in tags)
            {
                var i = Array.IndexOf(Names, tag.Key);
                if (i < 0 || !Equals(Values[i], tag.Value)) return false;
            }
            return true;
        }
    }

    /// <summary>A label name as Prometheus allows it: [a-zA-Z_][a-zA-Z0-9_]*.</summary>
    private static string LabelName(string key)
    {
        var sb = new StringBuilder(key.Length);
        foreach (var c in key) sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        if (sb.Length == 0 || char.IsAsciiDigit(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ => double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabel(string text)
        => EscapeHelp(text).Replace("\"", "\\\"", StringComparison.Ordinal);
}
