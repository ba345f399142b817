using System.Text;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Kafka.Testing;
using AnomalyActors.Streams.Kafka;
using Confluent.Kafka;
using Xunit;

namespace AnomalyActors.Kafka.Tests;

public sealed class ConnectorSpecs : IDisposable
{
    private readonly MockKafkaCluster _cluster = new(brokers: 3);
    private readonly ActorSystem _system = ActorSystem.Create("connector-specs", "akka.loglevel = WARNING");

    public void Dispose()
    {
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
        _cluster.Dispose();
    }

    private ConsumerSettings<string, string> Consumer(string group) =>
        ConsumerSettings<string, string>.Create(Deserializers.Utf8, Deserializers.Utf8)
            .WithBootstrapServers(_cluster.BootstrapServers)
            .WithGroupId(group)
            .WithProperty("session.timeout.ms", "6000")
            .WithProperty("heartbeat.interval.ms", "500");

    private ProducerSettings<string, string> Producer() =>
        ProducerSettings<string, string>.Create(Serializers.Utf8, Serializers.Utf8).WithBootstrapServers(_cluster.BootstrapServers);

    private async Task ProduceAsync(string topic, int count, int from = 0)
    {
        using var producer = Producer().CreateProducer();
        foreach (var i in Enumerable.Range(from, count))
        {
            producer.Produce(topic, new Message<string, string> { Key = "k" + (i % 17), Value = i.ToString() });
        }

        await Task.Run(() => producer.Flush(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Every assigned partition's messages merged into one stream (each in its own order), as the node's consumer does.</summary>
    private static Source<CommittableMessage<string, string>, IControl> Merged(ConsumerSettings<string, string> settings, string topic) =>
        KafkaConsumer.CommittablePartitionedSource(settings, Subscriptions.Topics(topic))
            .MergeMany(16, pair => pair.Messages.MapMaterializedValue(_ => (IControl)null!));

    private static Sink<ICommittable, Task> Committing(CommitterSettings settings) =>
        Committer.Flow(settings).ToMaterialized(Sink.Ignore<int>(), Keep.Right).MapMaterializedValue(done => (Task)done);

    [Fact]
    public async Task Should_consume_everything_produced_and_commit_in_batches()
    {
        _cluster.CreateTopic("numbers", 4);
        await ProduceAsync("numbers", 2000);

        var seen = new HashSet<int>();
        var (control, done) = Merged(Consumer("g1"), "numbers")
            .Select(m =>
            {
                lock (seen)
                {
                    seen.Add(int.Parse(m.Record.Message.Value));
                }

                return (ICommittable)m.CommitableOffset;
            })
            .ToMaterialized(Committing(CommitterSettings.Default.WithMaxInterval(TimeSpan.FromMilliseconds(50))), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (seen) { return seen.Count == 2000; } }, "all 2000 messages");
        // Drain: stop emitting, let the commits in flight finish, then close the consumer.
        await control.Stop();
        await done;
        await control.Shutdown();

        Assert.Equal(2000, await CommittedTotalAsync("g1", "numbers", 4));
    }

    [Fact]
    public async Task Should_resume_at_the_committed_offset_after_a_restart()
    {
        _cluster.CreateTopic("resume", 2);
        await ProduceAsync("resume", 1000);

        // First run commits only the first 300 messages it sees per partition.
        var firstRun = new List<int>();
        var (control, done) = KafkaConsumer.CommittablePartitionedSource(Consumer("g2"), Subscriptions.Topics("resume"))
            .MergeMany(4, pair => pair.Messages.Take(300).MapMaterializedValue(_ => (IControl)null!))
            .Select(m =>
            {
                lock (firstRun)
                {
                    firstRun.Add(int.Parse(m.Record.Message.Value));
                }

                return (ICommittable)m.CommitableOffset;
            })
            .ToMaterialized(Committing(CommitterSettings.Default), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (firstRun) { return firstRun.Count == 600; } }, "600 messages in the first run");
        await Await(async () => await CommittedTotalAsync("g2", "resume", 2) == 600, "the first run's commits");
        await control.Shutdown();

        var secondRun = new HashSet<int>();
        var (control2, _) = Merged(Consumer("g2"), "resume")
            .Select(m =>
            {
                lock (secondRun)
                {
                    secondRun.Add(int.Parse(m.Record.Message.Value));
                }

                return m;
            })
            .ToMaterialized(Sink.Ignore<CommittableMessage<string, string>>(), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (secondRun) { return secondRun.Count == 400; } }, "the 400 uncommitted messages");
        await control2.Shutdown();

        Assert.Empty(secondRun.Intersect(firstRun));
        Assert.Equal(1000, secondRun.Count + firstRun.Count);
    }

    [Fact]
    public async Task Should_split_partitions_when_a_second_member_joins_and_end_revoked_substreams()
    {
        _cluster.CreateTopic("shared", 4);
        var firstPartitions = new List<int>();
        var completedSubstreams = 0;
        var (first, _) = KafkaConsumer.CommittablePartitionedSource(Consumer("g3"), Subscriptions.Topics("shared"))
            .Select(pair =>
            {
                lock (firstPartitions)
                {
                    firstPartitions.Add(pair.Partition.Partition.Value);
                }

                pair.Messages.RunWith(Sink.Ignore<CommittableMessage<string, string>>(), _system.Materializer())
                    .ContinueWith(_ => Interlocked.Increment(ref completedSubstreams));
                return pair.Partition;
            })
            .ToMaterialized(Sink.Ignore<TopicPartition>(), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (firstPartitions) { return firstPartitions.Count == 4; } }, "all four partitions on the first member");

        var secondPartitions = new List<int>();
        var (second, _) = KafkaConsumer.CommittablePartitionedSource(Consumer("g3"), Subscriptions.Topics("shared"))
            .Select(pair =>
            {
                lock (secondPartitions)
                {
                    secondPartitions.Add(pair.Partition.Partition.Value);
                }

                return pair.Partition;
            })
            .ToMaterialized(Sink.Ignore<TopicPartition>(), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (secondPartitions) { return secondPartitions.Count > 0; } }, "partitions for the second member", TimeSpan.FromSeconds(30));
        // Eager rebalancing revokes everything from the first member, then splits.
        await Await(() => Volatile.Read(ref completedSubstreams) >= 4, "revoked sub-sources of the first member to complete");
        await second.Shutdown();
        await first.Shutdown();
    }

    [Fact]
    public async Task Should_move_only_the_partitions_that_change_owner_with_cooperative_rebalancing()
    {
        _cluster.CreateTopic("sticky", 4);
        ConsumerSettings<string, string> Sticky() => Consumer("g5").WithProperty("partition.assignment.strategy", "cooperative-sticky");
        var firstAssigned = new List<int>();
        var firstEnded = new List<int>();
        var firstMessages = new Dictionary<int, int>();
        var (first, _) = KafkaConsumer.CommittablePartitionedSource(Sticky(), Subscriptions.Topics("sticky"))
            .Select(pair =>
            {
                var partition = pair.Partition.Partition.Value;
                lock (firstAssigned)
                {
                    firstAssigned.Add(partition);
                }

                pair.Messages
                    .RunForeach(_ =>
                    {
                        lock (firstAssigned)
                        {
                            firstMessages[partition] = firstMessages.GetValueOrDefault(partition) + 1;
                        }
                    }, _system.Materializer())
                    .ContinueWith(_ =>
                    {
                        lock (firstAssigned)
                        {
                            firstEnded.Add(partition);
                        }
                    });
                return pair.Partition;
            })
            .ToMaterialized(Sink.Ignore<TopicPartition>(), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (firstAssigned) { return firstAssigned.Count == 4; } }, "all four partitions on the first member");

        var secondAssigned = new List<int>();
        var (second, _) = KafkaConsumer.CommittablePartitionedSource(Sticky(), Subscriptions.Topics("sticky"))
            .Select(pair =>
            {
                lock (secondAssigned)
                {
                    secondAssigned.Add(pair.Partition.Partition.Value);
                }

                pair.Messages.RunWith(Sink.Ignore<CommittableMessage<string, string>>(), _system.Materializer());
                return pair.Partition;
            })
            .ToMaterialized(Sink.Ignore<TopicPartition>(), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (secondAssigned) { return secondAssigned.Count == 2; } }, "two partitions for the second member", TimeSpan.FromSeconds(30));

        // The first member gave up exactly the two that moved; its other two sub-sources go on
        // delivering what arrives, never ended and started again.
        await Await(() => { lock (firstAssigned) { return firstEnded.Count >= 2; } }, "the moved partitions' sub-sources on the first member to end");
        int[] kept;
        lock (firstAssigned)
        {
            Assert.Equal(4, firstAssigned.Count);
            lock (secondAssigned)
            {
                Assert.Equal(secondAssigned.Order(), firstEnded.Order());
            }

            kept = firstAssigned.Except(firstEnded).ToArray();
        }

        await ProduceAsync("sticky", 200);
        await Await(() => { lock (firstAssigned) { return kept.All(p => firstMessages.GetValueOrDefault(p) > 0); } }, "new messages on the partitions the first member kept");

        // The second member leaves: its two partitions come back, and the first member's own stay.
        await second.Shutdown();
        await Await(() => { lock (firstAssigned) { return firstAssigned.Count == 6; } }, "the second member's partitions back on the first", TimeSpan.FromSeconds(30));
        lock (firstAssigned)
        {
            Assert.Equal(2, firstEnded.Count);
            Assert.Equal([0, 1, 2, 3], firstAssigned.Skip(4).Concat(kept).Order().ToArray());
        }

        await first.Shutdown();
    }

    [Fact]
    public async Task Should_serve_kcat_from_another_process_both_ways()
    {
        _cluster.CreateTopic("from-kcat", 1);
        var lines = string.Join("\n", Enumerable.Range(0, 50).Select(i => $"key{i}:value{i}")) + "\n";
        var produced = await Kcat.RunAsync(lines, TimeSpan.FromSeconds(30), "-b", _cluster.BootstrapServers, "-P", "-t", "from-kcat", "-K:");
        Assert.True(produced.ExitCode == 0, produced.Stderr);

        var received = new List<string>();
        var (control, _) = Merged(Consumer("g4"), "from-kcat")
            .Select(m =>
            {
                lock (received)
                {
                    received.Add(m.Record.Message.Key + ":" + m.Record.Message.Value);
                }

                return m;
            })
            .ToMaterialized(Sink.Ignore<CommittableMessage<string, string>>(), Keep.Both)
            .Run(_system.Materializer());
        await Await(() => { lock (received) { return received.Count == 50; } }, "kcat's 50 messages");
        await control.Shutdown();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"key{i}:value{i}"), received);

        _cluster.CreateTopic("to-kcat", 1);
        await ProduceAsync("to-kcat", 20);
        var consumed = await Kcat.RunAsync(string.Empty, TimeSpan.FromSeconds(30), "-b", _cluster.BootstrapServers, "-C", "-t", "to-kcat", "-o", "beginning", "-e", "-f", "%k=%s\\n");
        Assert.True(consumed.ExitCode == 0, consumed.Stderr);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"k{i % 17}={i}"), consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private async Task<long> CommittedTotalAsync(string group, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _cluster.BootstrapServers, GroupId = group }).Build();
        var committed = await Task.Run(() => consumer.Committed(Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10)));
        return committed.Sum(c => Math.Max(0, c.Offset.Value));
    }

    private static Task Await(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Await(() => Task.FromResult(condition()), what, timeout);

    private static async Task Await(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }

            await Task.Delay(20);
        }
    }
}
