using AnomalyActors.Core.Protocol;

namespace AnomalyActors.Core.State;

/// <summary>
/// The keys of the messages an intake partition has stored, per source session: the latest
/// <c>window</c> of each session, which is every message of it that may still be delivered again
/// (a session has at most that many unacknowledged at once, and resends only those). A resent
/// message whose key is here is already stored.
/// </summary>
public sealed class DeliveryTable
{
    private readonly Dictionary<string, SessionWindow> _sessions = new(StringComparer.Ordinal);

    /// <summary>Keys held, over all sessions.</summary>
    public int Count { get; private set; }

    public int Sessions => _sessions.Count;

    /// <summary>Grows with every change, so a saved copy can tell whether it is still current.</summary>
    public long Version { get; private set; }

    /// <summary>
    /// True when a message of the session with this packet id and content is among its latest
    /// window stored here. Two different messages alike in topic, payload and packet id within one
    /// window would be taken for one another; a packet id recurs only after 65,535 newer messages of
    /// its session, so that cannot happen while window x partitions stays below 65,536.
    /// </summary>
    public bool Contains(in DeliveryKey key) =>
        _sessions.TryGetValue(key.Session, out var session) && session.Contains(key.PacketId, key.ContentHash);

    public void Record(in DeliveryKey key, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        if (!_sessions.TryGetValue(key.Session, out var session))
        {
            _sessions[key.Session] = session = new SessionWindow();
        }

        Count += session.Record(key.PacketId, key.ContentHash, window);
        Version++;
    }

    public void Record(ChunkDeliveries deliveries)
    {
        for (var i = 0; i < deliveries.Keys.Length; i++)
        {
            Record(deliveries.Keys[i], deliveries.Windows[i]);
        }
    }

    public DeliveryTableSnapshot Snapshot()
    {
        var sessions = new SessionDeliveries[_sessions.Count];
        var i = 0;
        foreach (var (name, session) in _sessions)
        {
            sessions[i++] = session.Snapshot(name);
        }

        return new DeliveryTableSnapshot(sessions);
    }

    /// <summary>Replaces the contents with a saved copy.</summary>
    public void Restore(DeliveryTableSnapshot snapshot)
    {
        _sessions.Clear();
        Count = 0;
        foreach (var saved in snapshot.Sessions)
        {
            for (var j = 0; j < saved.PacketIds.Length; j++)
            {
                Record(new DeliveryKey(saved.Session, saved.PacketIds[j], saved.Hashes[j]), saved.Window);
            }
        }
    }

    /// <summary>
    /// One session's latest messages, oldest first, in a ring of at most its window (about ten bytes a
    /// message). Lookups scan it newest first and run only for messages marked as resent, which are rare.
    /// </summary>
    private sealed class SessionWindow
    {
        private ushort[] _ids = new ushort[4];
        private ulong[] _hashes = new ulong[4];
        private int _start;
        private int _count;
        private int _window = 1;

        public bool Contains(ushort packetId, ulong hash)
        {
            // Every entry, not only the newest under this packet id: a broker may hand a packet id
            // to a new message while an older one under it is still unacknowledged (mosquitto 2.0
            // does with more than 65,535 messages queued), and the older one then comes back later.
            for (var n = _count - 1; n >= 0; n--)
            {
                var at = (_start + n) % _ids.Length;
                if (_ids[at] == packetId && _hashes[at] == hash)
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Returns the change in keys held.</summary>
        public int Record(ushort packetId, ulong hash, int window)
        {
            var before = _count;
            _window = window;
            while (_count >= window)
            {
                _start = (_start + 1) % _ids.Length;
                _count--;
            }

            if (_count == _ids.Length)
            {
                Grow(Math.Min(window, _ids.Length * 2));
            }

            var at = (_start + _count) % _ids.Length;
            _ids[at] = packetId;
            _hashes[at] = hash;
            _count++;
            return _count - before;
        }

        private void Grow(int capacity)
        {
            var ids = new ushort[Math.Max(capacity, _count + 1)];
            var hashes = new ulong[ids.Length];
            for (var n = 0; n < _count; n++)
            {
                var at = (_start + n) % _ids.Length;
                ids[n] = _ids[at];
                hashes[n] = _hashes[at];
            }

            _ids = ids;
            _hashes = hashes;
            _start = 0;
        }

        public SessionDeliveries Snapshot(string name)
        {
            var ids = new ushort[_count];
            var hashes = new ulong[_count];
            for (var n = 0; n < _count; n++)
            {
                var at = (_start + n) % _ids.Length;
                ids[n] = _ids[at];
                hashes[n] = _hashes[at];
            }

            return new SessionDeliveries(name, _window, ids, hashes);
        }
    }
}

/// <summary>A session's keys in a saved <see cref="DeliveryTable"/>, oldest first.</summary>
public sealed record SessionDeliveries(string Session, int Window, ushort[] PacketIds, ulong[] Hashes);

/// <summary>
/// A saved <see cref="DeliveryTable"/>: lets an intake partition delete old chunks without forgetting
/// the keys they carried.
/// </summary>
public sealed record DeliveryTableSnapshot(SessionDeliveries[] Sessions) : IAnomalyActorsMessage;
