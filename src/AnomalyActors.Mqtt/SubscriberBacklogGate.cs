using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace AnomalyActors.Mqtt;

/// <summary>
/// Counts, per watched subscriber, the QoS 1 messages the broker has queued or sent to it and not
/// yet had acknowledged, and says when publishers should be held: from the moment one subscriber
/// has more than the limit outstanding until every one is back to half of it (hysteresis, so
/// publishers resume in bursts rather than one message at a time). Thread-safe; the broker's event
/// handlers call it from many connections at once.
/// </summary>
public sealed class SubscriberBacklogGate
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _outstanding = new(StringComparer.Ordinal);
    private readonly Lock _transition = new();
    private volatile TaskCompletionSource _released = Released();
    private volatile bool _holding;

    public SubscriberBacklogGate(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 2);
        Limit = limit;
    }

    public int Limit { get; }

    /// <summary>Whether publishers should wait for <see cref="Release"/>.</summary>
    public bool Holding => _holding;

    /// <summary>Completes when holding ends (already complete while not holding).</summary>
    public Task Release => _released.Task;

    /// <summary>The most any watched subscriber has outstanding right now (0 when none is watched).</summary>
    public long LargestOutstanding => _outstanding.Values.Select(c => Volatile.Read(ref c.Value)).DefaultIfEmpty(0).Max();

    public long OutstandingOf(string clientId) => _outstanding.TryGetValue(clientId, out var count) ? Volatile.Read(ref count.Value) : 0;

    /// <summary>A subscriber to watch; a session it resumes keeps its count (its unacknowledged messages come back).</summary>
    public void Watch(string clientId) => _outstanding.TryAdd(clientId, new StrongBox<long>());

    /// <summary>The subscriber's session is gone, and with it everything it had outstanding.</summary>
    public void Forget(string clientId)
    {
        if (_outstanding.TryRemove(clientId, out _))
        {
            Evaluate();
        }
    }

    public void Enqueued(string receiverClientId)
    {
        if (_outstanding.TryGetValue(receiverClientId, out var count)
            && Interlocked.Increment(ref count.Value) > Limit
            && !_holding)
        {
            Evaluate();
        }
    }

    public void Acknowledged(string clientId)
    {
        if (!_outstanding.TryGetValue(clientId, out var count))
        {
            return;
        }

        // Never below zero: an acknowledgement of a message queued before watching began.
        if (Interlocked.Decrement(ref count.Value) < 0)
        {
            Interlocked.Increment(ref count.Value);
        }

        if (_holding && Volatile.Read(ref count.Value) <= Limit / 2)
        {
            Evaluate();
        }
    }

    private void Evaluate()
    {
        lock (_transition)
        {
            var largest = 0L;
            foreach (var count in _outstanding.Values)
            {
                largest = Math.Max(largest, Volatile.Read(ref count.Value));
            }

            if (!_holding && largest > Limit)
            {
                _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _holding = true;
            }
            else if (_holding && largest <= Limit / 2)
            {
                _holding = false;
                _released.TrySetResult();
            }
        }
    }

    private static TaskCompletionSource Released()
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        released.SetResult();
        return released;
    }
}
