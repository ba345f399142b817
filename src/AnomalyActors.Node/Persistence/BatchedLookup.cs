using System.Threading.Channels;

namespace AnomalyActors.Node.Persistence;

/// <summary>
/// Answers many single-key lookups with few queries: requests queue up while a query runs, and the
/// next query takes every key waiting (up to <paramref name="maxBatch"/>). Nothing waits for a batch
/// to fill: a lone request goes out at once, and under load the batches grow by themselves. A failed
/// query fails the requests it held; later requests get a query of their own.
/// </summary>
/// <param name="query">Answers a batch of distinct keys; a key missing from the answer gets <c>default</c>.</param>
/// <param name="maxBatch">Most keys per query (SQL parameters: well under every database's limit).</param>
/// <param name="parallelism">Queries under way at once.</param>
public sealed class BatchedLookup<TResult>(
    Func<IReadOnlyList<string>, CancellationToken, Task<IReadOnlyDictionary<string, TResult>>> query,
    int maxBatch = 500,
    int parallelism = 2) : IDisposable
{
    private readonly Channel<(string Key, TaskCompletionSource<TResult?> Answer)> _waiting =
        Channel.CreateUnbounded<(string, TaskCompletionSource<TResult?>)>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });

    private readonly CancellationTokenSource _stopping = new();
    private Task[]? _workers;

    /// <summary>How many queries were sent and how many keys they answered (for tests and diagnostics).</summary>
    public long Queries => Interlocked.Read(ref _queries);

    public long Keys => Interlocked.Read(ref _keys);

    private long _queries;
    private long _keys;

    public Task<TResult?> Get(string key)
    {
        _workers ??= StartWorkers();
        var answer = new TaskCompletionSource<TResult?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_waiting.Writer.TryWrite((key, answer)))
        {
            answer.SetException(new ObjectDisposedException(nameof(BatchedLookup<TResult>), "The store is stopping."));
        }

        return answer.Task;
    }

    private Task[] StartWorkers()
    {
        var workers = new Task[Math.Max(1, parallelism)];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => Serve(_stopping.Token));
        }

        return workers;
    }

    private async Task Serve(CancellationToken stopping)
    {
        var batch = new List<(string Key, TaskCompletionSource<TResult?> Answer)>(maxBatch);
        var keys = new List<string>(maxBatch);
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (await _waiting.Reader.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                batch.Clear();
                keys.Clear();
                distinct.Clear();
                while (keys.Count < maxBatch && _waiting.Reader.TryRead(out var request))
                {
                    batch.Add(request);
                    if (distinct.Add(request.Key))
                    {
                        keys.Add(request.Key);
                    }
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                try
                {
                    var answers = await query(keys, stopping).ConfigureAwait(false);
                    Interlocked.Increment(ref _queries);
                    Interlocked.Add(ref _keys, keys.Count);
                    foreach (var (key, answer) in batch)
                    {
                        answer.TrySetResult(answers.TryGetValue(key, out var value) ? value : default);
                    }
                }
                catch (Exception e)
                {
                    foreach (var (_, answer) in batch)
                    {
                        answer.TrySetException(e);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }

        foreach (var (_, answer) in batch)
        {
            answer.TrySetCanceled(stopping);
        }
    }

    public void Dispose()
    {
        _waiting.Writer.TryComplete();
        _stopping.Cancel();
        while (_waiting.Reader.TryRead(out var request))
        {
            request.Answer.TrySetException(new ObjectDisposedException(nameof(BatchedLookup<TResult>), "The store stopped."));
        }
    }
}
