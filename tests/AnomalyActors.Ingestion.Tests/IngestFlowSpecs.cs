using System.Collections.Concurrent;
using System.Text;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using AnomalyActors.Core.DeadLetters;
using AnomalyActors.Core.Commands;
using AnomalyActors.Ingestion.DeadLetters;
using AnomalyActors.Ingestion.Intake;
using AnomalyActors.Ingestion.Payload;
using Xunit;

namespace AnomalyActors.Ingestion.Tests;

public sealed class IngestFlowSpecs : IAsyncLifetime
{
    private ActorSystem _system = null!;

    public Task InitializeAsync()
    {
        _system = ActorSystem.Create("ingest-flow-specs", "akka.loglevel = WARNING");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _system.Terminate();

    private sealed record Message(string Topic, ReadOnlyMemory<byte> Payload, long ArrivalMs) : IIngestMessage;

    /// <summary>An intake that refuses the first attempt of every batch, as a node whose journal hiccups would.</summary>
    private sealed class FlakyIntake : IReadingIntake
    {
        public ConcurrentQueue<IngestReadings> Attempts { get; } = new();
        public ConcurrentDictionary<long, IngestReadings> Stored { get; } = new();

        public Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
        {
            Attempts.Enqueue(batch);
            return Task.FromResult(Stored.TryAdd(batch.SourceSeq, batch) ? (false, "journal busy") : (true, (string?)null));
        }
    }

    private sealed class ListSink : IDeadLetterSink
    {
        public List<DeadLetter> Letters { get; } = [];

        public void Write(DeadLetter letter) => Letters.Add(letter);
    }

    [Fact]
    public async Task Should_emit_every_message_in_order_once_its_batch_is_durable_retrying_with_the_same_sequence()
    {
        var settings = DefaultFormats.Load() with { BatchMaxMessages = 7, RetryBackoff = TimeSpan.FromMilliseconds(1) };
        var intake = new FlakyIntake();
        var deadLetters = new ListSink();
        var counters = new IngestionCounters();
        var messages = Enumerable.Range(0, 100)
            .Select(i => new Message($"sensors/s/d{i % 3}/demo", Encoding.UTF8.GetBytes(i % 10 == 9 ? "{bad" : $"{{\"iotValue\":{i}}}"), i))
            .ToArray();

        var batches = await Source.From(messages)
            .Via(IngestFlow.Create<Message>("test", settings, intake, deadLetters, counters))
            .RunWith(Sink.Seq<IngestedBatch<Message>>(), _system.Materializer());

        Assert.Equal(messages, batches.SelectMany(b => b.Messages));
        Assert.Equal(90, counters.Readings);
        Assert.Equal(10, counters.DeadLettersFor(DeadLetterReason.InvalidJson));
        Assert.Equal(10, deadLetters.Letters.Count);
        Assert.All(deadLetters.Letters, l => Assert.Equal("{bad", Encoding.UTF8.GetString(l.Payload.Span)));
        // Each batch was refused once and accepted on the retry with the same sequence number.
        var attempts = intake.Attempts.GroupBy(a => a.SourceSeq).ToArray();
        Assert.All(attempts, a => Assert.Equal(2, a.Count()));
        Assert.Equal(90, intake.Stored.Values.Sum(b => b.Readings.Length));
        Assert.Equal(Enumerable.Range(0, 100).Where(i => i % 10 != 9).Select(i => (double)i),
            intake.Stored.Values.OrderBy(b => b.SourceSeq).SelectMany(b => b.Readings).Select(r => r.Value));
    }

    /// <summary>Refuses the first attempt of every batch after a moment, as a partition moving to another member would.</summary>
    private sealed class SlowFlakyIntake : IReadingIntake
    {
        private readonly ConcurrentDictionary<long, bool> _tried = new();

        public ConcurrentQueue<long> Attempts { get; } = new();

        public async Task<(bool Durable, string? Failure)> IngestAsync(IngestReadings batch)
        {
            Attempts.Enqueue(batch.SourceSeq);
            await Task.Delay(5);
            return _tried.TryAdd(batch.SourceSeq, true) ? (false, "partition moving") : (true, null);
        }
    }

    [Fact]
    public async Task Should_offer_no_batch_before_the_one_retried_ahead_of_it_is_durable_with_the_shipped_settings()
    {
        // A later batch stored while an earlier one waits for its retry would put a stream's
        // readings out of the order they arrived in.
        var settings = DefaultFormats.Load() with { BatchMaxMessages = 5, RetryBackoff = TimeSpan.FromMilliseconds(1) };
        var intake = new SlowFlakyIntake();
        var messages = Enumerable.Range(0, 50)
            .Select(i => new Message("sensors/s/d/demo", Encoding.UTF8.GetBytes($"{{\"iotValue\":{i}}}"), i))
            .ToArray();

        await Source.From(messages)
            .Via(IngestFlow.Create<Message>("test", settings, intake, null, new IngestionCounters()))
            .RunWith(Sink.Ignore<IngestedBatch<Message>>(), _system.Materializer());

        var attempts = intake.Attempts.ToArray();
        var sequences = attempts.Distinct().Order().ToArray();
        Assert.Equal(10, sequences.Length);
        Assert.Equal(sequences.SelectMany(seq => new[] { seq, seq }), attempts);
    }

    [Fact]
    public async Task Should_pass_batches_of_only_bad_messages_without_asking_the_intake()
    {
        var settings = DefaultFormats.Load();
        var intake = new FlakyIntake();
        var counters = new IngestionCounters();

        var batches = await Source.From(Enumerable.Range(0, 5).Select(i => new Message("nowhere", new byte[] { 1 }, i)))
            .Via(IngestFlow.Create<Message>("test", settings, intake, null, counters))
            .RunWith(Sink.Seq<IngestedBatch<Message>>(), _system.Materializer());

        Assert.Equal(5, batches.Sum(b => b.Messages.Count));
        Assert.Empty(intake.Attempts);
        Assert.Equal(5, counters.DeadLettersFor(DeadLetterReason.UnknownFormat));
    }

    [Fact]
    public void Should_keep_source_sequences_increasing_across_restarts()
    {
        var first = new SourceSequence();
        var lastOfFirstRun = Enumerable.Range(0, 1000).Select(_ => first.Next()).Last();

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        SpinWait.SpinUntil(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > now);
        var second = new SourceSequence();

        Assert.True(second.Next() > lastOfFirstRun);
    }
}
