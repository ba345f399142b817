using System.Text;
using AnomalyActors.Streams.Kafka;
using Confluent.Kafka;
using Xunit;

namespace AnomalyActors.Kafka.Tests;

public sealed class InterningUtf8DeserializerSpecs
{
    private static readonly SerializationContext Context = new(MessageComponentType.Key, "readings");

    [Fact]
    public void Should_return_the_same_instance_for_a_repeated_key()
    {
        var deserializer = new InterningUtf8Deserializer();
        var bytes = Encoding.UTF8.GetBytes("sensors/site-1/dev-0001/temp");

        var first = deserializer.Deserialize(bytes, isNull: false, Context);
        var second = deserializer.Deserialize(bytes.ToArray(), isNull: false, Context);

        Assert.Equal("sensors/site-1/dev-0001/temp", first);
        Assert.Same(first, second);
    }

    [Fact]
    public void Should_decode_exactly_as_the_plain_utf8_deserializer_for_any_bytes()
    {
        // Arrange: many more distinct keys than slots (collisions replace entries), repeats, invalid
        // UTF-8, empty and over-long keys, multi-byte characters.
        var deserializer = new InterningUtf8Deserializer();
        var random = new Random(42);
        var keys = new List<byte[]>();
        for (var i = 0; i < 50_000; i++)
        {
            keys.Add(i % 5 == 0
                ? RandomBytes(random, random.Next(0, 40))
                : Encoding.UTF8.GetBytes($"sensors/site-{i % 7}/dev-{random.Next(20_000):D5}/t\u00e9mp"));
        }

        keys.Add(RandomBytes(random, InterningUtf8Deserializer.MaxInternedBytes + 10));
        keys.Add([]);

        foreach (var key in keys.Concat(keys.OrderBy(_ => random.Next())))
        {
            // Act
            var interned = deserializer.Deserialize(key, isNull: false, Context);

            // Assert
            Assert.Equal(Deserializers.Utf8.Deserialize(key, isNull: false, Context), interned);
        }
    }

    [Fact]
    public void Should_return_null_for_a_null_key()
    {
        var deserializer = new InterningUtf8Deserializer();

        Assert.Null(deserializer.Deserialize(ReadOnlySpan<byte>.Empty, isNull: true, Context));
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
