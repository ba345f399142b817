using Xunit;

using AnomalyActors.Streams.Kafka;

namespace AnomalyActors.Kafka.Tests;

public sealed class ConsumerSettingsSpecs
{
    [Fact]
    public void Should_let_librdkafka_back_off_only_briefly_when_its_fetch_queue_is_full()
    {
        // Arrange
        var settings = ConsumerSettings<string, string>.Create().WithBootstrapServers("127.0.0.1:9092").WithGroupId("g");

        // Act
        var config = settings.CreateConsumerConfig();

        // Assert: librdkafka's default, 1,000 ms, stalled catch-up fetching for about 0.5 s.
        Assert.Equal("10", config.Get("fetch.queue.backoff.ms"));
    }

    [Fact]
    public void Should_keep_a_fetch_queue_backoff_the_caller_set()
    {
        // Arrange
        var settings = ConsumerSettings<string, string>.Create().WithProperty("fetch.queue.backoff.ms", "250");

        // Act
        var config = settings.CreateConsumerConfig();

        // Assert
        Assert.Equal("250", config.Get("fetch.queue.backoff.ms"));
    }

    [Fact]
    public void Should_never_commit_or_store_offsets_by_itself()
    {
        // Arrange
        var settings = ConsumerSettings<string, string>.Create().WithProperty("enable.auto.commit", "true");

        // Act
        var config = settings.CreateConsumerConfig();

        // Assert
        Assert.False(config.EnableAutoCommit);
        Assert.False(config.EnableAutoOffsetStore);
    }
}
