using System.Threading.Channels;

namespace AnomalyActors.Web;

/// <summary>
/// Hands every published item to each watcher's own bounded queue: a watcher that falls behind
/// loses its oldest items and never slows the publisher. Any thread.
/// </summary>
public sealed class Broadcast<T>
{
    private readonly List<Channel<T>> _watchers = [];
    private readonly Lock _lock = new();

    public void Publish(T item)
    {
        Channel<T>[] watchers;
        lock (_lock)
        {
            if (_watchers.Count == 0)
            {
                return;
            }

            watchers = [.. _watchers];
        }

        foreach (var watcher in watchers)
        {
            watcher.Writer.TryWrite(item);
        }
    }

    /// <summary>Every item published from the start of the enumeration until <paramref name="stopping"/>.</summary>
    public async IAsyncEnumerable<T> WatchAsync(int backlog, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken stopping)
    {
        var channel = Channel.CreateBounded<T>(new BoundedChannelOptions(backlog) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_lock)
        {
            _watchers.Add(channel);
        }

        try
        {
            while (true)
            {
                T item;
                try
                {
                    item = await channel.Reader.ReadAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }

                yield return item;
            }
        }
        finally
        {
            lock (_lock)
            {
                _watchers.Remove(channel);
            }
        }
    }
}
