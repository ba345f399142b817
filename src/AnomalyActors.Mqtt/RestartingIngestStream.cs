using Akka.Streams;

namespace AnomalyActors.Mqtt;

/// <summary>
/// The life of an MQTT ingest stream, the same for the subscriber's and the embedded broker's: run
/// the graph, and when it fails (say the dead-letter disk is full) let the source recover what the
/// stream held, pause, and run it anew; on a graceful stop let the batches already taken finish
/// within the drain timeout, then cut the stream.
/// </summary>
internal sealed class RestartingIngestStream : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Action<string> _log;
    private UniqueKillSwitch? _killSwitch;
    private Task? _running;

    public RestartingIngestStream(Action<string> log) => _log = log;

    /// <summary>Cancelled once the stop stops waiting for the stream to drain.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <param name="run">Materialises the graph once: its kill switch and its completion.</param>
    /// <param name="recover">What the source does after a failure before the graph runs again (the failure is passed).</param>
    public void Start(Func<(UniqueKillSwitch KillSwitch, Task Done)> run, Func<Exception, Task> recover, TimeSpan backoff) =>
        _running = RunAsync(run, recover, backoff, _stopping.Token);

    private async Task RunAsync(Func<(UniqueKillSwitch KillSwitch, Task Done)> run, Func<Exception, Task> recover, TimeSpan backoff, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var (killSwitch, done) = run();
            _killSwitch = killSwitch;
            try
            {
                await done.ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                await recover(e).ConfigureAwait(false);
                await Task.Delay(backoff, stopping).ConfigureAwait(false);
            }
            catch (Exception) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Call once the source takes nothing new: waits up to <paramref name="drainTimeout"/> for the
    /// stream to finish what it took (logging <paramref name="notDrained"/> otherwise), then cuts it.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout, string notDrained)
    {
        if (_running is not null)
        {
            try
            {
                await _running.WaitAsync(drainTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _log($"MQTT ingestion: in-flight batches did not finish within {drainTimeout.TotalSeconds:0.#} s; {notDrained}");
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _killSwitch?.Shutdown();
        if (_running is not null)
        {
            try
            {
                await _running.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException)
            {
                _log("MQTT ingestion: stream did not stop within 10 s");
            }
        }
    }

    public void Dispose() => _stopping.Dispose();
}
