using AnomalyActors.Core.Protocol;

namespace AnomalyActors.TestNode;

/// <summary>
/// Deterministic multi-sensor input: smooth daily-ish waves with seeded noise and injected spikes,
/// cut into source batches. The same seed always yields the same readings.
/// </summary>
public sealed class TestInput
{
    public TestInput(int sensors, int readingsPerSensor, int batchSize, int seed = 7, double spikeProbability = 0.002)
    {
        var random = new Random(seed);
        Keys = Enumerable.Range(0, sensors).Select(i => $"site-{i % 3}/device-{i}/temperature").ToArray();
        var all = new List<Reading>(sensors * readingsPerSensor);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        for (var r = 0; r < readingsPerSensor; r++)
        {
            for (var s = 0; s < sensors; s++)
            {
                var value = 20 + 5 * Math.Sin((r + s * 13) / 50.0) + random.NextDouble();
                if (random.NextDouble() < spikeProbability)
                {
                    value += 40 + random.NextDouble() * 20;
                }

                all.Add(new Reading(Keys[s], start + r * 1000L, value));
            }
        }

        Batches = all.Chunk(batchSize).ToArray();
        Total = all.Count;
    }

    public string[] Keys { get; }
    public Reading[][] Batches { get; }
    public int Total { get; }
}
