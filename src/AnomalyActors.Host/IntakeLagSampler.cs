using AnomalyActors.Web;

namespace AnomalyActors.Host;

/// <summary>
/// The intake's lag, asked of every intake partition every few seconds, so the dashboard and a scrape
/// read the latest figures without waiting on the partitions. Null until the first answer, and while
/// partitions do not answer (moving to another member).
/// </summary>
internal sealed class IntakeLagSampler : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private IntakeLagView? _latest;

    public IntakeLagSampler(Node.Hosting.AnomalyNode node) => _loop = Task.Run(() => SampleAsync(node, _stop.Token));

    public IntakeLagView? Latest => Volatile.Read(ref _latest);

    private async Task SampleAsync(Node.Hosting.AnomalyNode node, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var totals = await node.TotalsAsync().WaitAsync(stopping).ConfigureAwait(false);
                Volatile.Write(ref _latest, new IntakeLagView(totals.SensorsBehind, totals.ReadingsRetained, totals.ReadingsStored, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is Akka.Actor.AskTimeoutException or TimeoutException or OperationCanceledException)
            {
                Volatile.Write(ref _latest, null);
            }
        }
        while (await WaitAsync(timer, stopping).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
