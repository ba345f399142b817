using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace AnomalyActors.Web.Metrics;

/// <summary>
/// The instruments of one <see cref="Meter"/> in Prometheus' text exposition format (version 0.0.4),
/// for <c>/metrics</c>. Listens from construction, so nothing recorded before the first scrape is
/// lost; observable instruments are read at each scrape. Counters become <c>_total</c> counters,
/// up-down counters and gauges gauges, histograms cumulative buckets. Names: the instrument's, with
/// every character Prometheus does not allow replaced by '_'; tags become labels.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Buckets of a histogram that gives no advice: seconds from a millisecond to a minute.</summary>
    public static readonly double[] DefaultBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    // In the order instruments were published, so the exposition is stable from scrape to scrape.
    private readonly Dictionary<Instrument, Family> _families = [];
    private readonly List<Family> _order = [];

    public PrometheusExporter(Meter meter)
        : this([meter])
    {
    }

    /// <param name="meters">Whose instruments are exported (by instance, so two nodes in one process stay apart).</param>
    /// <param name="constantLabels">Labels every series gets unless its own tags have them (the node's site).</param>
    public PrometheusExporter(IReadOnlyList<Meter> meters, IReadOnlyDictionary<string, string>? constantLabels = null)
    {
        var constant = (constantLabels ?? new Dictionary<string, string>()).Select(l => new KeyValuePair<string, object?>(l.Key, l.Value)).ToArray();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (meters.Any(m => ReferenceEquals(instrument.Meter, m)))
            {
                lock (_lock)
                {
                    var family = new Family(instrument, constant);
                    _families[instrument] = family;
                    _order.Add(family);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The content type of <see cref="Scrape"/>'s text.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Reads the observable instruments and writes every family.</summary>
    public string Scrape()
    {
        lock (_lock)
        {
            // Observable callbacks run here, on this thread, and land in Record under the same lock.
            // They report every current value each time: a series they no longer report is gone.
            foreach (var family in _order)
            {
                family.ForgetObserved();
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (var family in _order)
            {
                family.WriteTo(text);
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_lock)
        {
            if (_families.TryGetValue(instrument, out var family))
            {
                family.Record(value, tags);
            }
        }
    }

    private enum Kind
    {
        Counter,
        CumulativeCounter,
        UpDown,
        Gauge,
        Histogram,
    }

    private sealed class Family
    {
        private readonly Kind _kind;
        private readonly string _name;
        private readonly string _help;
        private readonly double[] _buckets;
        private readonly Dictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly bool _observable;
        private readonly KeyValuePair<string, object?>[] _constant;

        public Family(Instrument instrument, KeyValuePair<string, object?>[] constant)
        {
            _constant = constant;
            _observable = instrument.IsObservable;
            var type = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : instrument.GetType();
            _kind = type == typeof(Counter<>) ? Kind.Counter
                : type == typeof(ObservableCounter<>) ? Kind.CumulativeCounter
                : type == typeof(UpDownCounter<>) ? Kind.UpDown
                : type == typeof(Histogram<>) ? Kind.Histogram
                : Kind.Gauge;
            var name = Sanitize(instrument.Name);
            _name = _kind is Kind.Counter or Kind.CumulativeCounter && !name.EndsWith("_total", StringComparison.Ordinal) ? name + "_total" : name;
            _help = (instrument.Description ?? instrument.Name).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
            _buckets = _kind == Kind.Histogram ? BucketsOf(instrument) : [];
        }

        public void ForgetObserved()
        {
            if (_observable)
            {
                _series.Clear();
            }
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags, _constant);
            if (!_series.TryGetValue(labels, out var series))
            {
                _series[labels] = series = new Series(_buckets.Length);
            }

            switch (_kind)
            {
                case Kind.Counter:
                case Kind.UpDown:
                    series.Value += value;
                    break;
                case Kind.CumulativeCounter:
                case Kind.Gauge:
                    series.Value = value;
                    break;
                case Kind.Histogram:
                    series.Value += value;
                    series.Count++;
                    var i = Array.BinarySearch(_buckets, value);
                    series.Buckets[i >= 0 ? i : ~i]++;
                    break;
            }
        }

        public void WriteTo(StringBuilder text)
        {
            var type = _kind switch
            {
                Kind.Counter or Kind.CumulativeCounter => "counter",
                Kind.Histogram => "histogram",
                _ => "gauge",
            };
            text.Append("# HELP ").Append(_name).Append(' ').Append(_help).Append('\n');
            text.Append("# TYPE ").Append(_name).Append(' ').Append(type).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (_kind != Kind.Histogram)
                {
                    Sample(text, _name, labels, null, series.Value);
                    continue;
                }

                long cumulative = 0;
                for (var b = 0; b < _buckets.Length; b++)
                {
                    cumulative += series.Buckets[b];
                    Sample(text, _name + "_bucket", labels, Number(_buckets[b]), cumulative);
                }

                Sample(text, _name + "_bucket", labels, "+Inf", series.Count);
                Sample(text, _name + "_sum", labels, null, series.Value);
                Sample(text, _name + "_count", labels, null, series.Count);
            }
        }

        private static void Sample(StringBuilder text, string name, string labels, string? le, double value)
        {
            text.Append(name);
            if (labels.Length > 0 || le is not null)
            {
                text.Append('{').Append(labels);
                if (le is not null)
                {
                    text.Append(labels.Length > 0 ? "," : string.Empty).Append("le=\"").Append(le).Append('"');
                }

                text.Append('}');
            }

            text.Append(' ').Append(Number(value)).Append('\n');
        }

        private static string Number(double value) =>
            double.IsPositiveInfinity(value) ? "+Inf"
            : double.IsNegativeInfinity(value) ? "-Inf"
            : double.IsNaN(value) ? "NaN"
            : value.ToString("R", CultureInfo.InvariantCulture);

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags, KeyValuePair<string, object?>[] constant)
        {
            if (tags.Length == 0 && constant.Length == 0)
            {
                return string.Empty;
            }

            var all = tags.ToArray();
            var sorted = all.Concat(constant.Where(c => !all.Any(t => t.Key == c.Key))).ToArray();
            Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
            var text = new StringBuilder();
            foreach (var (key, value) in sorted)
            {
                if (text.Length > 0)
                {
                    text.Append(',');
                }

                text.Append(Sanitize(key)).Append("=\"");
                foreach (var ch in Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty)
                {
                    text.Append(ch switch
                    {
                        '\\' => "\\\\",
                        '"' => "\\\"",
                        '\n' => "\\n",
                        _ => ch.ToString(),
                    });
                }

                text.Append('"');
            }

            return text.ToString();
        }

        private static double[] BucketsOf(Instrument instrument)
        {
            var advised = instrument switch
            {
                Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
                Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
                _ => null,
            };
            return advised is { Length: > 0 } ? advised : DefaultBuckets;
        }

        private static string Sanitize(string name)
        {
            var text = new StringBuilder(name.Length);
            foreach (var ch in name)
            {
                text.Append(char.IsAsciiLetterOrDigit(ch) || ch is '_' or ':' ? ch : '_');
            }

            if (text.Length == 0 || char.IsAsciiDigit(text[0]))
            {
                text.Insert(0, '_');
            }

            return text.ToString();
        }
    }

    private sealed class Series(int buckets)
    {
        public double Value;
        public long Count;
        public readonly long[] Buckets = new long[buckets + 1];
    }
}
