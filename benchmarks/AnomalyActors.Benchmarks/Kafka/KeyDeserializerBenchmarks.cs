using System.Text;
using AnomalyActors.Streams.Kafka;
using BenchmarkDotNet.Attributes;
using Confluent.Kafka;

namespace AnomalyActors.Benchmarks.Kafka;

/// <summary>
/// Per-message cost of a reading's key (its device topic) on the consumer thread: Confluent's UTF-8
/// deserializer against <see cref="InterningUtf8Deserializer"/>, over 4,096 keys of 1,000 devices in the
/// kafka harness's round-robin order. OperationsPerInvoke turns the figures into nanoseconds per message.
/// </summary>
[MemoryDiagnoser]
public class KeyDeserializerBenchmarks
{
    private const int Batch = 4096;
    private static readonly SerializationContext Context = new(MessageComponentType.Key, "readings");
    private byte[][] _keys = null!;
    private readonly IDeserializer<string> _plain = Deserializers.Utf8;
    private readonly InterningUtf8Deserializer _interning = new();

    [GlobalSetup]
    public void Setup()
    {
        _keys = Enumerable.Range(0, Batch)
            .Select(i => Encoding.UTF8.GetBytes($"sensors/bench/device-{i % 1000}/value"))
            .ToArray();
        Interning();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Utf8()
    {
        var length = 0;
        foreach (var key in _keys)
        {
            length += _plain.Deserialize(key, isNull: false, Context).Length;
        }

        return length;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Interning()
    {
        var length = 0;
        foreach (var key in _keys)
        {
            length += _interning.Deserialize(key, isNull: false, Context)!.Length;
        }

        return length;
    }
}
