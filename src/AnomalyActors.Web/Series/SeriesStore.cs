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

    /// <summary>
    /// Told (on the caller's thread) when a stream page starts being watched: in a cluster the member
    /// whose sensor scores the stream is asked for its readings.
    /// </summary>
    public Action<string>? Started { get; set; }

    public bool IsWatched(string sensorId) => _watched.ContainsKey(sensorId);

    /// <summary>A watched stream's newly scored readings from this node's sensor.</summary>
    public void Record(string sensorId, IReadOnlyList<ScoredReading> readings)
    {
        if (_watched.TryGetValue(sensorId, out var series))
        {
            series.Append(readings, scoredHere: true);
        }
    }

    /// <summary>A watched stream's readings as another member's sensor scored them.</summary>
    public void RecordFromPeer(string sensorId, ScoredReading[] readings)
    {
        if (_watched.TryGetValue(sensorId, out var series))
        {
            series.Append(readings, scoredHere: false);
        }
    }

    /// <summary>Starts watching a stream (or marks it as used now); its readings from now on are kept.</summary>
    /// <param name="announce">Tell <see cref="Started"/> (not for a stream whose sensor is known to be here, as one that just raised an alert).</param>
    public SensorSeries Watch(string sensorId, bool announce = true)
    {
        var created = false;
        var series = _watched.GetOrAdd(sensorId, id =>
        {
            created = true;
            return new SensorSeries(id, _pointsPerSensor);
        });
        series.Touch();
        if (created && announce)
        {
            Started?.Invoke(sensorId);
        }

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

    /// <summary>Whether any reading kept was scored on this node (and so is this node's to send to other members).</summary>
    public bool ScoredHere => Volatile.Read(ref _scoredHere);

    private bool _scoredHere;

    internal void Append(IReadOnlyList<ScoredReading> readings, bool scoredHere)
    {
        var added = new ScoredReading[readings.Count];
        if (scoredHere)
        {
            Volatile.Write(ref _scoredHere, true);
        }

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
