using System.Collections.Concurrent;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;

namespace AnomalyActors.Web.Series;

/// <summary>
/// The scored readings (value, prediction, band, score) of the streams the dashboard watches: a
/// stream is watched from its first alert or from when its page is opened, keeps its newest
/// readings in a ring of fixed size, and at most a fixed number of streams are watched (the one
/// touched longest ago gives way). Other streams cost their sensors one lookup per slice.
/// </summary>
public sealed class SeriesStore : IScoredReadingsTap
{
    private readonly int _pointsPerSensor;
    private readonly int _maxSensors;
    private readonly ConcurrentDictionary<string, SensorSeries> _watched = new(StringComparer.Ordinal);
    private readonly Lock _evicting = new();

    public SeriesStore(int pointsPerSensor, int maxSensors)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pointsPerSensor, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSensors, 1);
        _pointsPerSensor = pointsPerSensor;
        _maxSensors = maxSensors;
    }

    public int Watched => _watched.Count;

    public bool IsWatched(string sensorId) => _watched.ContainsKey(sensorId);

    public void Record(string sensorId, IReadOnlyList<ScoredReading> readings)
    {
        if (_watched.TryGetValue(sensorId, out var series))
        {
            series.Append(readings);
        }
    }

    /// <summary>Starts watching a stream (or marks it as used now); its readings from now on are kept.</summary>
    public SensorSeries Watch(string sensorId)
    {
        var series = _watched.GetOrAdd(sensorId, id => new SensorSeries(id, _pointsPerSensor));
        series.Touch();
        if (_watched.Count > _maxSensors)
        {
            lock (_evicting)
            {
                while (_watched.Count > _maxSensors)
                {
                    var oldest = _watched.Values.Where(s => !ReferenceEquals(s, series)).MinBy(s => s.LastTouchedTicks);
                    if (oldest is null || !_watched.TryRemove(oldest.SensorId, out _))
                    {
                        break;
                    }
                }
            }
        }

        return series;
    }

    /// <summary>The ids of the watched streams, ordered.</summary>
    public IReadOnlyList<string> Sensors() => [.. _watched.Keys.Order(StringComparer.Ordinal)];
}

/// <summary>One watched stream's newest scored readings and the watchers of new ones.</summary>
public sealed class SensorSeries
{
    private readonly ScoredReading[] _ring;
    private readonly Broadcast<ScoredReading[]> _batches = new();
    private readonly Lock _lock = new();
    private long _count;
    private long _lastTouched;

    internal SensorSeries(string sensorId, int capacity)
    {
        SensorId = sensorId;
        _ring = new ScoredReading[capacity];
    }

    public string SensorId { get; }

    internal long LastTouchedTicks => Volatile.Read(ref _lastTouched);

    internal void Touch() => Volatile.Write(ref _lastTouched, Environment.TickCount64);

    internal void Append(IReadOnlyList<ScoredReading> readings)
    {
        var added = new ScoredReading[readings.Count];
        lock (_lock)
        {
            for (var i = 0; i < readings.Count; i++)
            {
                added[i] = readings[i];
                _ring[(int)(_count++ % _ring.Length)] = readings[i];
            }
        }

        _batches.Publish(added);
    }

    /// <summary>The readings kept, oldest first.</summary>
    public ScoredReading[] Points()
    {
        lock (_lock)
        {
            var kept = (int)Math.Min(_count, _ring.Length);
            var points = new ScoredReading[kept];
            for (var i = 0; i < kept; i++)
            {
                points[i] = _ring[(int)((_count - kept + i) % _ring.Length)];
            }

            return points;
        }
    }

    /// <summary>Every batch of new readings from now on until <paramref name="stopping"/>; a lagging watcher loses the oldest batches.</summary>
    public IAsyncEnumerable<ScoredReading[]> WatchAsync(int backlog, CancellationToken stopping) => _batches.WatchAsync(backlog, stopping);
}
