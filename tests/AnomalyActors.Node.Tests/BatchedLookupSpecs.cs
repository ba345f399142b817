using AnomalyActors.Node.Persistence;
using Xunit;

namespace AnomalyActors.Node.Tests;

public sealed class BatchedLookupSpecs
{
    [Fact]
    public async Task Should_answer_requests_waiting_together_with_one_query_and_each_with_its_own_answer()
    {
        // "missing" is not in the store: its request gets the default answer.
        var (lookup, batches, release) = HeldLookup(keys => keys.Where(k => k != "missing").ToDictionary(k => k, k => "value of " + k));
        using var _ = lookup;

        // The first request's query holds the worker; the others queue up behind it meanwhile.
        var first = lookup.Get("k0");
        await WaitUntilAsync(() => batches.Count == 1);
        var rest = Enumerable.Range(1, 150).Select(i => lookup.Get("k" + (i % 50))).Append(lookup.Get("missing")).ToArray();
        release.SetResult();

        Assert.Equal("value of k0", await first);
        var answers = await Task.WhenAll(rest);
        for (var i = 1; i <= 150; i++)
        {
            Assert.Equal("value of k" + (i % 50), answers[i - 1]);
        }

        Assert.Null(answers[^1]);
        // The 151 requests that waited name 51 distinct keys: one query, each key asked once.
        Assert.Equal(2, lookup.Queries);
        Assert.Equal([1, 51], batches);
        Assert.Equal(1 + 51, lookup.Keys);
    }

    [Fact]
    public async Task Should_put_no_more_than_the_maximum_of_keys_in_one_query()
    {
        var (lookup, batches, release) = HeldLookup(keys => keys.ToDictionary(k => k, k => k));
        using var _ = lookup;

        var first = lookup.Get("first");
        await WaitUntilAsync(() => batches.Count == 1);
        var rest = Enumerable.Range(0, 250).Select(i => lookup.Get("k" + i)).ToArray();
        release.SetResult();

        await first;
        var answers = await Task.WhenAll(rest);
        Assert.Equal(Enumerable.Range(0, 250).Select(i => "k" + i), answers);
        Assert.Equal([1, 100, 100, 50], batches);
    }

    [Fact]
    public async Task Should_fail_only_the_requests_of_a_failed_query()
    {
        var calls = 0;
        using var lookup = new BatchedLookup<long>((keys, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("database gone");
            }

            return Task.FromResult<IReadOnlyDictionary<string, long>>(keys.ToDictionary(k => k, k => (long)k.Length));
        }, parallelism: 1);

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => lookup.Get("a"));
        Assert.Equal("database gone", failed.Message);
        Assert.Equal(3, await lookup.Get("abc"));
    }

    [Fact]
    public async Task Should_refuse_requests_once_disposed()
    {
        var lookup = new BatchedLookup<long>((keys, _) => Task.FromResult<IReadOnlyDictionary<string, long>>(new Dictionary<string, long>()));
        lookup.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => lookup.Get("a"));
    }

    /// <summary>
    /// A lookup of at most 100 keys per query on one worker, whose queries record their sizes and
    /// wait for <c>release</c>: requests made meanwhile queue up.
    /// </summary>
    private static (BatchedLookup<string> Lookup, List<int> Batches, TaskCompletionSource Release) HeldLookup(
        Func<IReadOnlyList<string>, Dictionary<string, string>> answer)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new List<int>();
        var lookup = new BatchedLookup<string>(async (keys, _) =>
        {
            lock (batches)
            {
                batches.Add(keys.Count);
            }

            await release.Task;
            return answer(keys);
        }, maxBatch: 100, parallelism: 1);
        return (lookup, batches, release);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(10);
        }
    }
}
