using System.Collections.Concurrent;
using System.Diagnostics;
using AnomalyActors.Core.Models;
using AnomalyActors.Testing;
using Xunit;

namespace AnomalyActors.Models.Tests;

public sealed class ModelPullerSpecs
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private readonly string _sharedRoot = ScratchDirectory.Create("anomaly-actors-models");

    private readonly string _local = Path.Combine(ScratchDirectory.Create("anomaly-actors-models-local"), "models");

    private readonly ConcurrentQueue<string> _reports = new();

    private ModelStore Shared => ModelStore.InArchive(_sharedRoot);

    private ModelPuller Start(CurrentModel target) => ModelPuller.Start(_sharedRoot, _local, Poll, target, _reports.Enqueue);

    private string Reports => string.Join(Environment.NewLine, _reports);

    private async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < Deadline, $"timed out waiting until {what}; reports:{Environment.NewLine}{Reports}");
            await Task.Delay(20);
        }
    }

    /// <summary>Waits until the puller has polled a few more times, so that anything it would do again it has done.</summary>
    private Task PollsAsync(ModelPuller puller, int more)
    {
        var until = puller.Polls + more;
        return UntilAsync(() => puller.Polls >= until, $"{more} more polls");
    }

    private IEnumerable<string> LocalEntries() => Directory.EnumerateFileSystemEntries(_local).Select(e => Path.GetFileName(e)!);

    [Fact]
    public async Task Should_take_a_published_version_into_the_local_directory_and_the_sensors()
    {
        // Arrange
        var target = new CurrentModel();
        await using var puller = Start(target);
        await UntilAsync(() => _reports.Any(r => r.Contains("no model is published", StringComparison.Ordinal)), "nothing published is reported");
        var model = SampleModels.At(1);

        // Act
        Shared.Publish(model, SampleModels.Sites);

        // Assert
        await UntilAsync(() => target.Model?.Version == model.Version, "the model is in use");
        Assert.Equal(model.ToJson(), target.Model!.ToJson());
        Assert.Equal(model.Version, puller.VersionInUse);
        Assert.Contains($"model {model.Version} in use (was none)", _reports);
        var local = new ModelStore(_local);
        Assert.Equal(model.Version, local.ReadCurrent());
        Assert.Equal(model.ToJson(), local.Read(model.Version).Model.ToJson());
        Assert.Equal([model.Version, ModelStore.CurrentFileName], LocalEntries().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Should_keep_the_model_in_use_when_the_shared_current_version_is_corrupted()
    {
        // Arrange
        var target = new CurrentModel();
        var good = SampleModels.At(2);
        Shared.Publish(good, SampleModels.Sites);
        await using var puller = Start(target);
        await UntilAsync(() => target.Model?.Version == good.Version, "the good model is in use");

        // Act: a version copied into the shared store with one byte changed on the way, made current.
        var staging = new ModelStore(ScratchDirectory.Create("anomaly-actors-models"));
        var corrupted = SampleModels.At(3);
        staging.Publish(corrupted, SampleModels.Sites);
        var copy = Path.Combine(Shared.Directory, corrupted.Version);
        Directory.CreateDirectory(copy);
        File.Copy(Path.Combine(staging.Directory, corrupted.Version, ModelStore.ManifestFileName), Path.Combine(copy, ModelStore.ManifestFileName));
        var bytes = File.ReadAllBytes(Path.Combine(staging.Directory, corrupted.Version, ModelStore.ModelFileName));
        bytes[^10] ^= 0x20;
        File.WriteAllBytes(Path.Combine(copy, ModelStore.ModelFileName), bytes);
        File.WriteAllText(Path.Combine(Shared.Directory, ModelStore.CurrentFileName), corrupted.Version + "\n");

        // Assert: reported once, however often the puller looks again.
        await UntilAsync(() => _reports.Any(r => r.Contains(corrupted.Version, StringComparison.Ordinal)), "the corrupted version is reported");
        await PollsAsync(puller, 5);
        var report = Assert.Single(_reports, r => r.Contains(corrupted.Version, StringComparison.Ordinal));
        Assert.Contains("(corrupted or partly copied)", report, StringComparison.Ordinal);
        Assert.EndsWith($"model {good.Version} stays in use", report, StringComparison.Ordinal);
        Assert.Equal(good.Version, target.Model?.Version);
        Assert.Equal([good.Version, ModelStore.CurrentFileName], LocalEntries().Order(StringComparer.Ordinal));
        Assert.Equal(good.Version, new ModelStore(_local).ReadCurrent());
    }

    [Fact]
    public async Task Should_keep_the_local_model_while_the_shared_root_is_gone_and_follow_it_when_it_is_back()
    {
        // Arrange
        var target = new CurrentModel();
        var first = SampleModels.At(4);
        Shared.Publish(first, SampleModels.Sites);
        await using var puller = Start(target);
        await UntilAsync(() => target.Model?.Version == first.Version, "the first model is in use");

        // Act
        var away = _sharedRoot + "-away";
        Directory.Move(_sharedRoot, away);
        await UntilAsync(() => _reports.Any(r => r.Contains("cannot be reached", StringComparison.Ordinal)), "the lost shared root is reported");
        await PollsAsync(puller, 5);
        var whileGone = target.Model?.Version;
        var reportsWhileGone = _reports.Count(r => r.Contains("cannot be reached", StringComparison.Ordinal));
        Directory.Move(away, _sharedRoot);
        var second = SampleModels.At(5);
        Shared.Publish(second, SampleModels.Sites);

        // Assert
        Assert.Equal(first.Version, whileGone);
        Assert.Equal(1, reportsWhileGone);
        Assert.Contains(_reports, r => r == $"the shared storage {_sharedRoot} cannot be reached (no such directory); model {first.Version} stays in use");
        await UntilAsync(() => target.Model?.Version == second.Version, "the second model is in use");
        Assert.Contains($"model {second.Version} in use (was {first.Version})", _reports);
    }

    [Fact]
    public async Task Should_start_from_the_local_copy_when_the_shared_root_is_missing()
    {
        // Arrange: a node took a model, then stopped.
        var model = SampleModels.At(6);
        Shared.Publish(model, SampleModels.Sites);
        var before = new CurrentModel();
        await using (var earlier = Start(before))
        {
            await UntilAsync(() => before.Model?.Version == model.Version, "the model is in use");
        }

        Directory.Move(_sharedRoot, _sharedRoot + "-away");
        _reports.Clear();
        var target = new CurrentModel();

        // Act
        await using var puller = Start(target);

        // Assert: in use as soon as it started, before any poll.
        Assert.Equal(model.ToJson(), target.Model?.ToJson());
        Assert.Equal($"model {model.Version} in use (local copy in {_local})", _reports.First());
        await UntilAsync(() => _reports.Any(r => r.Contains("cannot be reached", StringComparison.Ordinal)), "the missing shared root is reported");
        Assert.Equal(model.Version, target.Model?.Version);
    }

    [Fact]
    public async Task Should_start_from_the_newest_verified_local_copy_when_the_local_current_one_is_damaged()
    {
        // Arrange: a node took two models; the one in use was damaged on its disk while it was stopped.
        var older = SampleModels.At(7);
        var newer = SampleModels.At(8);
        var inUse = SampleModels.At(9);
        var before = new CurrentModel();
        await using (var earlier = Start(before))
        {
            foreach (var model in new[] { older, newer, inUse })
            {
                Shared.Publish(model, SampleModels.Sites);
                await UntilAsync(() => before.Model?.Version == model.Version, $"model {model.Version} is in use");
            }
        }

        File.Delete(Path.Combine(_local, inUse.Version, ModelStore.ModelFileName));
        Directory.Move(_sharedRoot, _sharedRoot + "-away");
        _reports.Clear();
        var target = new CurrentModel();

        // Act
        await using var puller = Start(target);

        // Assert
        Assert.Equal(newer.Version, target.Model?.Version);
        Assert.Contains(_reports, r => r.Contains($"{inUse.Version}{Path.DirectorySeparatorChar}model.json is missing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_follow_a_rollback_in_the_shared_store()
    {
        // Arrange
        var target = new CurrentModel();
        var first = SampleModels.At(10);
        var second = SampleModels.At(11);
        Shared.Publish(first, SampleModels.Sites);
        await using var puller = Start(target);
        await UntilAsync(() => target.Model?.Version == first.Version, "the first model is in use");
        Shared.Publish(second, SampleModels.Sites);
        await UntilAsync(() => target.Model?.Version == second.Version, "the second model is in use");

        // Act
        Shared.Rollback(null);

        // Assert
        await UntilAsync(() => target.Model?.Version == first.Version, "the first model is in use again");
        Assert.Contains($"model {first.Version} in use (was {second.Version})", _reports);
        Assert.Equal(first.Version, new ModelStore(_local).ReadCurrent());
    }

    [Fact]
    public async Task Should_keep_the_newest_local_copies_and_the_one_in_use()
    {
        // Arrange
        var target = new CurrentModel();
        await using var puller = Start(target);
        var models = Enumerable.Range(12, ModelPuller.LocalVersionsKept + 2).Select(SampleModels.At).ToList();
        foreach (var model in models)
        {
            Shared.Publish(model, SampleModels.Sites);
            await UntilAsync(() => target.Model?.Version == model.Version, $"model {model.Version} is in use");
        }

        await PollsAsync(puller, 1);
        var afterPublishing = new ModelStore(_local).List().Select(m => m.Version).ToList();

        // Act: back to the oldest, which only the shared store still has.
        Shared.Rollback(models[0].Version);

        // Assert
        Assert.Equal(models.TakeLast(ModelPuller.LocalVersionsKept).Select(m => m.Version), afterPublishing);
        await UntilAsync(() => target.Model?.Version == models[0].Version, "the oldest model is in use again");
        await PollsAsync(puller, 1);
        Assert.Equal(
            models.Take(1).Concat(models.TakeLast(ModelPuller.LocalVersionsKept)).Select(m => m.Version),
            new ModelStore(_local).List().Select(m => m.Version));
    }

    [Fact]
    public async Task Should_stop_promptly_when_disposed_between_polls()
    {
        // Arrange
        var puller = ModelPuller.Start(_sharedRoot, _local, TimeSpan.FromHours(1), new CurrentModel(), _reports.Enqueue);
        await UntilAsync(() => puller.Polls >= 1, "the first poll is done");
        var clock = Stopwatch.StartNew();

        // Act
        await puller.DisposeAsync();

        // Assert
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"stopped only after {clock.Elapsed}");
    }

    /// <summary>A version's files as a peer that took it from its shared storage passes them on.</summary>
    private static ModelFiles PeerFiles(GlobalModel model)
    {
        var peerStore = new ModelStore(Path.Combine(ScratchDirectory.Create("anomaly-actors-models-peer"), "_models"));
        var manifest = peerStore.Publish(model, SampleModels.Sites);
        var directory = Path.Combine(peerStore.Directory, manifest.Version);
        return new ModelFiles(manifest.Version, File.ReadAllBytes(Path.Combine(directory, ModelStore.ModelFileName)), File.ReadAllBytes(Path.Combine(directory, ModelStore.ManifestFileName)));
    }

    [Fact]
    public async Task Should_take_a_peers_version_while_the_shared_root_does_not_answer_and_pass_on_what_it_takes_itself()
    {
        // Arrange: a member whose shared root is gone; what it takes itself is passed on.
        Directory.Delete(_sharedRoot, recursive: true);
        var target = new CurrentModel();
        var passedOn = new ConcurrentQueue<ModelFiles>();
        await using var puller = ModelPuller.Start(_sharedRoot, _local, Poll, target, _reports.Enqueue, passedOn.Enqueue);
        await PollsAsync(puller, 2);
        var fromPeer = SampleModels.At(7);

        // Act: a peer's version arrives; then the root is back with another version.
        puller.Offer(PeerFiles(fromPeer));
        await UntilAsync(() => target.Model?.Version == fromPeer.Version, "the peer's model is in use");
        var taken = new ModelStore(_local).Read(fromPeer.Version).Model;
        Directory.CreateDirectory(_sharedRoot);
        var published = SampleModels.At(8);
        Shared.Publish(published, SampleModels.Sites);
        await UntilAsync(() => target.Model?.Version == published.Version, "the shared root's model is in use");

        // Assert: the peer's version was kept locally, only the root's was passed on.
        Assert.Equal(fromPeer.ToJson(), taken.ToJson());
        Assert.Contains(_reports, r => r.Contains("from another member of the cluster", StringComparison.Ordinal));
        Assert.Equal([published.Version], passedOn.Select(f => f.Version));
    }

    [Fact]
    public async Task Should_leave_a_peers_version_alone_while_the_shared_root_answers_and_refuse_a_damaged_one()
    {
        // Arrange
        var target = new CurrentModel();
        var current = SampleModels.At(9);
        Shared.Publish(current, SampleModels.Sites);
        await using var puller = Start(target);
        await UntilAsync(() => target.Model?.Version == current.Version, "the shared model is in use");

        // Act: a peer offers another version while the root answers; then, with the root gone, a damaged one.
        puller.Offer(PeerFiles(SampleModels.At(10)));
        await PollsAsync(puller, 3);
        var afterOffer = target.Model!.Version;
        Directory.Delete(_sharedRoot, recursive: true);
        await PollsAsync(puller, 2);
        var damaged = PeerFiles(SampleModels.At(11));
        damaged.Model[damaged.Model.Length / 2] ^= 0x20;
        puller.Offer(damaged);
        await UntilAsync(() => _reports.Any(r => r.Contains("sha256", StringComparison.Ordinal)), "the damaged offer is refused");

        // Assert
        Assert.Equal(current.Version, afterOffer);
        Assert.Equal(current.Version, target.Model!.Version);
    }
}
