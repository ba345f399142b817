using System.Globalization;
using AnomalyActors.Ingestion.Payload;
using BenchmarkDotNet.Attributes;

namespace AnomalyActors.Benchmarks.Ingestion;

/// <summary>
/// Per-reading cost of turning a payload's number text into a double: .NET's general parser against
/// <see cref="ShortDecimal"/> first (what the payload parser does), over the same 4,096 seeded values.
/// OperationsPerInvoke turns the figures into nanoseconds per reading.
/// </summary>
[MemoryDiagnoser]
public class NumberParsingBenchmarks
{
    private const int Batch = 4096;
    private string[] _texts = null!;

    [GlobalSetup]
    public void Setup()
    {
        // What devices send: whole numbers (the demo sensor's 10-20 and 100-120, the fan's RPM), two
        // decimals, negative temperatures, and a few longer fractions.
        var random = new Random(7);
        _texts = new string[Batch];
        for (var i = 0; i < Batch; i++)
        {
            _texts[i] = random.Next(4) switch
            {
                0 => random.Next(10, 121).ToString(CultureInfo.InvariantCulture),
                1 => (random.Next(1000, 2000) / 100.0).ToString("0.00", CultureInfo.InvariantCulture),
                2 => (-random.Next(0, 4000) / 100.0).ToString("0.0#", CultureInfo.InvariantCulture),
                _ => (random.NextDouble() * 1000).ToString("0.######", CultureInfo.InvariantCulture),
            };
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public double GeneralParser()
    {
        var sum = 0.0;
        foreach (var text in _texts)
        {
            double.TryParse(text.AsSpan(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value);
            sum += value;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public double ShortDecimalFirst()
    {
        var sum = 0.0;
        foreach (var text in _texts)
        {
            if (!ShortDecimal.TryParse(text.AsSpan(), out var value))
            {
                double.TryParse(text.AsSpan(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
            }

            sum += value;
        }

        return sum;
    }
}
