using AnomalyActors.Archive;
using AnomalyActors.Core.Models;

namespace AnomalyActors.Models;

/// <summary>
/// Keeps a site's node on the latest good global model. The storage all sites share (the archive
/// root, e.g. an NFS mount) is polled for its <c>current</c> version; a version other than the one in
/// use is copied into the node's own directory, verified there, and only then handed to the
/// sensors (<see cref="CurrentModel"/>). A rollback in the shared storage is followed the same way.
/// <para>
/// The node never depends on the shared storage being there: it starts from its last good local
/// copy, and when the storage is unreachable, or offers a version that is missing, partial or
/// damaged, the model in use stays and the problem is reported once (not at every poll) until it
/// changes. Polling runs on a thread of its own, since a read from a hung network mount can block
/// for as long as the mount is down; nothing of it blocks the node.
/// </para>
/// <para>
/// In a site's cluster the members pass models on to each other (the <c>taken</c> callback of
/// <see cref="Start"/>, <see cref="Offer"/>): a member that cannot reach the shared storage takes the version its peers
/// took from it, verified the same way. While the storage answers, it decides: an offer of another
/// version than its current one is left alone, so members never argue over a version.
/// </para>
/// </summary>
public sealed class ModelPuller : IAsyncDisposable
{
    /// <summary>Local versions kept besides the one in use: enough to follow a rollback without the shared storage.</summary>
    public const int LocalVersionsKept = 5;

    /// <summary>How long <see cref="DisposeAsync"/> waits for a poll under way (one blocked on a hung mount is left to end on its own).</summary>
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    private readonly string _sharedRoot;
    private readonly ModelStore _shared;
    private readonly ModelStore _local;
    private readonly TimeSpan _pollInterval;
    private readonly CurrentModel _target;
    private readonly Action<string> _report;
    private readonly Action<ModelFiles>? _taken;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<ModelFiles> _offers = new();
    private readonly AutoResetEvent _offered = new(false);
    private volatile string? _versionInUse;
    private volatile bool _sharedAnswers;
    private string? _problem;
    private long _polls;

    private ModelPuller(string sharedRoot, string localDirectory, TimeSpan pollInterval, CurrentModel target, Action<string> report, Action<ModelFiles>? taken)
    {
        _taken = taken;
        _sharedRoot = Path.GetFullPath(sharedRoot);
        _shared = ModelStore.InArchive(_sharedRoot);
        _local = new ModelStore(localDirectory);
        _pollInterval = pollInterval;
        _target = target;
        _report = report;
    }

    /// <summary>The version the sensors were given, or null while there is none.</summary>
    public string? VersionInUse => _versionInUse;

    /// <summary>
    /// A version a peer took from the shared storage. Taken (on the puller's thread, soon) only
    /// while this node's shared storage does not answer; refused with a report when it does not verify.
    /// </summary>
    public void Offer(ModelFiles files)
    {
        _offers.Enqueue(files);
        try
        {
            _offered.Set();
        }
        catch (ObjectDisposedException)
        {
            // Stopped: nothing takes offers any more.
        }
    }

    /// <summary>Polls completed, for tests to know that the puller has looked again.</summary>
    internal long Polls => Interlocked.Read(ref _polls);

    /// <summary>
    /// Loads the last good local copy into <paramref name="target"/> (before returning, so the node
    /// starts with it even when the shared storage is unreachable), then polls the shared storage
    /// at once and every <paramref name="pollInterval"/> until disposed.
    /// </summary>
    /// <param name="sharedRoot">The archive root every site shares; its models are under <c>_models</c>.</param>
    /// <param name="localDirectory">The node's own directory for model copies (same layout as the shared <c>_models</c>); only this puller may write to it.</param>
    /// <param name="report">Told each change of model and each new problem, as a line for the node's log.</param>
    /// <param name="taken">Told, on the puller's thread, each version taken from the shared storage with its verified files: what the cluster's other members are offered.</param>
    public static ModelPuller Start(string sharedRoot, string localDirectory, TimeSpan pollInterval, CurrentModel target, Action<string> report, Action<ModelFiles>? taken = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sharedRoot);
        ArgumentException.ThrowIfNullOrWhiteSpace(localDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pollInterval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(report);

        var puller = new ModelPuller(sharedRoot, localDirectory, pollInterval, target, report, taken);
        puller.LoadLocalCopy();
        new Thread(puller.Run) { IsBackground = true, Name = "model-puller" }.Start();
        return puller;
    }

    private void Run()
    {
        try
        {
            var nextPoll = DateTime.UtcNow;
            while (!_stopping.IsCancellationRequested)
            {
                if (DateTime.UtcNow >= nextPoll)
                {
                    Poll();
                    nextPoll = DateTime.UtcNow + _pollInterval;
                }

                TakeOffers();
                var wait = nextPoll - DateTime.UtcNow;
                WaitHandle.WaitAny([_stopping.Token.WaitHandle, _offered], wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    /// <summary>The version the local <c>current</c> names if it verifies, otherwise the newest local version that does.</summary>
    private void LoadLocalCopy()
    {
        try
        {
            Directory.CreateDirectory(_local.Directory);

            // Only this puller writes here: anything hidden is a copy a stopped node did not finish.
            _local.RemoveUnfinished(TimeSpan.Zero);
            GlobalModel? model = null;
            try
            {
                if (_local.ReadCurrent() is { } pointed)
                {
                    model = _local.Read(pointed).Model;
                }
            }
            catch (ModelRefusedException e)
            {
                Tell($"{e.Message} Using the newest local copy that verifies.");
            }

            if (model is null && _local.List().LastOrDefault(m => m.Manifest is not null) is { } newest)
            {
                model = _local.Read(newest.Version).Model;
            }

            if (model is null)
            {
                // Nothing taken yet: the first poll says whether anything is published.
                return;
            }

            Use(model, $"model {model.Version} in use (local copy in {_local.Directory})");
        }
        catch (Exception e)
        {
            Problem($"the local model copies in {_local.Directory} cannot be read: {e.Message}");
        }
    }

    private void Poll()
    {
        try
        {
            _sharedAnswers = false;
            if (!Directory.Exists(_sharedRoot))
            {
                Problem($"the shared storage {_sharedRoot} cannot be reached (no such directory)");
                return;
            }

            var version = _shared.ReadCurrent();
            if (version is null)
            {
                Problem($"no model is published in {_shared.Directory} yet");
                return;
            }

            _sharedAnswers = true;

            if (version == _versionInUse)
            {
                ProblemGone();
                return;
            }

            var (model, _) = _local.TakeFrom(_shared, version);
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            Use(model, $"model {version} in use (was {_versionInUse ?? "none"})");
            _problem = null;
            PruneLocalCopies(version);
            AnnounceTaken(version);
        }
        catch (ModelRefusedException e)
        {
            Problem(e.Message);
        }
        catch (Exception e)
        {
            Problem($"taking the current model from {_shared.Directory} failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Interlocked.Increment(ref _polls);
        }
    }

    private void AnnounceTaken(string version)
    {
        if (_taken is not { } taken)
        {
            return;
        }

        try
        {
            var (model, manifest) = _local.BytesOf(version);
            taken(new ModelFiles(version, model, manifest));
        }
        catch (Exception e)
        {
            Tell($"Model {version} could not be passed on to the other members: {e.Message}");
        }
    }

    private void TakeOffers()
    {
        while (_offers.TryDequeue(out var offer))
        {
            if (_stopping.IsCancellationRequested || _sharedAnswers || offer.Version == _versionInUse)
            {
                continue;
            }

            try
            {
                var (model, _) = _local.TakeFromBytes(offer.Version, offer.Model, offer.Manifest, "another member of the cluster");
                Use(model, $"model {offer.Version} in use (was {_versionInUse ?? "none"}), from another member of the cluster: the shared storage does not answer here");
                PruneLocalCopies(offer.Version);
            }
            catch (ModelRefusedException e)
            {
                Problem(e.Message);
            }
            catch (Exception e)
            {
                Problem($"taking model {offer.Version} from another member failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private void PruneLocalCopies(string inUse)
    {
        try
        {
            _local.Prune(LocalVersionsKept, inUse);
        }
        catch (Exception e)
        {
            Tell($"Old local model copies in {_local.Directory} could not be deleted: {e.Message}");
        }
    }

    private void Use(GlobalModel model, string message)
    {
        _target.Set(model);
        _versionInUse = model.Version;
        Tell(message);
    }

    /// <summary>Reports a problem unless it is the one reported last; the model in use stays.</summary>
    private void Problem(string reason)
    {
        if (reason == _problem)
        {
            return;
        }

        _problem = reason;
        Tell($"{reason.TrimEnd('.')}; {(_versionInUse is { } inUse ? $"model {inUse} stays in use" : "no model in use yet")}");
    }

    private void ProblemGone()
    {
        if (_problem is null)
        {
            return;
        }

        _problem = null;
        Tell($"models in {_shared.Directory} readable again; model {_versionInUse} is current there and in use");
    }

    private void Tell(string message)
    {
        try
        {
            _report(message);
        }
        catch (Exception)
        {
            // A failing log must not stop the node from following its models.
        }
    }

    /// <summary>Stops polling: at once between polls, and within a few seconds when a poll is under way.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        try
        {
            await _stopped.Task.WaitAsync(StopWait).ConfigureAwait(false);
            _stopping.Dispose();
            _offered.Dispose();
        }
        catch (TimeoutException)
        {
            // The poll is blocked in a read of the shared storage; it ends when the read does and
            // hands nothing to the sensors after the stop.
        }
    }
}

/// <summary>A version's files as a peer passes them on: verified again by whoever takes them.</summary>
public sealed record ModelFiles(string Version, byte[] Model, byte[] Manifest);
