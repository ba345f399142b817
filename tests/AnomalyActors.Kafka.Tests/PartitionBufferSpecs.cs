using Confluent.Kafka;
using Xunit;

using AnomalyActors.Streams.Kafka;

namespace AnomalyActors.Kafka.Tests;

public sealed class PartitionBufferSpecs
{
    private static readonly TopicPartition Partition = new("readings", 3);

    private static ConsumeResult<string, byte[]> Message(long offset) =>
        new() { Topic = Partition.Topic, Partition = Partition.Partition, Offset = offset, Message = new Message<string, byte[]> { Key = "k", Value = [] } };

    [Fact]
    public void Should_hold_a_partly_filled_chunk_back_until_it_is_flushed()
    {
        // Arrange
        var buffer = new PartitionBuffer<string, byte[]>(Partition);
        buffer.Write(Message(0));
        buffer.Write(Message(1));

        // Act
        var countBeforeFlush = buffer.Count;
        var beforeFlush = buffer.TryRead(out _);
        buffer.Flush();
        var first = buffer.TryRead(out var a) ? a.Offset.Value : -1;
        var second = buffer.TryRead(out var b) ? b.Offset.Value : -1;

        // Assert: the consumer thread counts what it holds, so pausing still sees it.
        Assert.Equal(2, countBeforeFlush);
        Assert.False(beforeFlush);
        Assert.Equal(0, first);
        Assert.Equal(1, second);
        Assert.False(buffer.TryRead(out _));
        Assert.Equal(0, buffer.Count);
    }

    [Fact]
    public void Should_count_messages_fetched_and_not_yet_read_including_the_chunk_being_filled()
    {
        // Arrange
        var buffer = new PartitionBuffer<string, byte[]>(Partition);
        var written = PartitionBuffer<string, byte[]>.ChunkSize + 5;

        // Act
        for (var i = 0; i < written; i++)
        {
            buffer.Write(Message(i));
        }

        buffer.TryRead(out _);

        // Assert: the full chunk went over at once and was taken whole by the first read.
        Assert.Equal(5, buffer.Count);
    }

    [Fact]
    public async Task Should_deliver_every_message_in_order_across_threads_and_chunks()
    {
        // Arrange
        const int total = 200_000;
        var buffer = new PartitionBuffer<string, byte[]>(Partition);
        var random = new Random(7);
        var flushAt = Enumerable.Range(0, total).Where(_ => random.Next(100) == 0).ToHashSet();

        // Act: the writer flushes at random points, as the worker does when librdkafka runs dry.
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < total; i++)
            {
                buffer.Write(Message(i));
                if (flushAt.Contains(i))
                {
                    buffer.Flush();
                }
            }

            buffer.Complete();
        });
        var received = new List<long>(total);
        while (true)
        {
            if (buffer.TryRead(out var message))
            {
                received.Add(message.Offset.Value);
                continue;
            }

            if (!await buffer.Reader.WaitToReadAsync())
            {
                break;
            }
        }

        await writer;

        // Assert
        Assert.Equal(Enumerable.Range(0, total).Select(i => (long)i), received);
    }
}
