using System.Collections.Concurrent;
using Akka.Actor;
using AnomalyActors.Core.Results;
using AnomalyActors.Core.State;
using AnomalyActors.Web.Series;

namespace AnomalyActors.Host;

/// <summary>
/// The tap this node's sensors hand watched streams' readings to: the node's own dashboard store,
/// and the other members' dashboards that watch a stream (their readings are sent on as the sensors
/// record them, on the sensors' threads, so the map is concurrent). A member's watch lapses unless
/// renewed within <see cref="WatchFor"/>. Streams nobody watches cost one lookup in each.
/// </summary>
internal sealed class SeriesRelay(SeriesStore store) : IScoredReadingsTap
{
    public static readonly TimeSpan WatchFor = TimeSpan.FromMinutes(3);

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<IActorRef, long>> _watchers = new(StringComparer.Ordinal);

    /// <summary>Starts or renews a member's watch of a stream; true when it is new.</summary>
    public bool Watch(string sensorId, IActorRef peer)
    {
        var until = Environment.TickCount64 + (long)WatchFor.TotalMilliseconds;
        var watchers = _watchers.GetOrAdd(sensorId, _ => new ConcurrentDictionary<IActorRef, long>());
        var isNew = !watchers.ContainsKey(peer);
        watchers[peer] = until;
        return isNew;
    }

    public bool IsWatched(string sensorId) => store.IsWatched(sensorId) || _watchers.ContainsKey(sensorId);

    public void Record(string sensorId, IReadOnlyList<ScoredReading> readings)
    {
        store.Record(sensorId, readings);
        if (!_watchers.TryGetValue(sensorId, out var watchers))
        {
            return;
        }

        var now = Environment.TickCount64;
        SeriesPoints? message = null;
        foreach (var (peer, until) in watchers)
        {
            if (until > now)
            {
                peer.Tell(message ??= new SeriesPoints(sensorId, [.. readings]));
            }
        }
    }

    public void Forget(IActorRef peer)
    {
        foreach (var watchers in _watchers.Values)
        {
            watchers.TryRemove(peer, out _);
        }
    }

    public void Expire()
    {
        var now = Environment.TickCount64;
        foreach (var (sensorId, watchers) in _watchers)
        {
            foreach (var (peer, until) in watchers)
            {
                if (until <= now)
                {
                    watchers.TryRemove(peer, out _);
                }
            }

            if (watchers.IsEmpty)
            {
                _watchers.TryRemove(sensorId, out _);
            }
        }
    }
}
