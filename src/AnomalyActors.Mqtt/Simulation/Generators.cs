using System.Globalization;
using System.Text;

namespace AnomalyActors.Mqtt.Simulation;

/// <summary>One simulated device's next message: topic suffix, payload, and which metrics were made anomalous.</summary>
public readonly record struct SimulatedMessage(string Payload, bool Anomalous, string? AnomalousMetric);

/// <summary>A kind of simulated device. Implementations are deterministic for a seed.</summary>
public interface IDeviceGenerator
{
    /// <summary>Last topic level of this kind (the default HOCON formats key on it).</summary>
    string TopicSuffix { get; }

    /// <summary>The metrics one message carries (stream key = site/device/metric).</summary>
    IReadOnlyList<string> Metrics { get; }

    SimulatedMessage Next(string device, long index, long timestampMs);
}

/// <summary>
/// The Kinesis RCF demo's sensor (docs/reference-pipelines.md): {"iotName": device, "iotValue": int},
/// normally 10-20, with probability 1% an anomaly of 100-120. The first <c>warmUp</c> readings of a
/// device are never anomalous: no statistical detector can call a reading abnormal before it has seen
/// what normal is. A "ts" field carries the device time (the demo's payload plus one field; the format
/// treats it as optional).
/// </summary>
public sealed class DemoSensorGenerator(Random random, double anomalyProbability = 0.01, int warmUp = 50) : IDeviceGenerator
{
    public string TopicSuffix => "demo";

    public IReadOnlyList<string> Metrics { get; } = ["iotValue"];

    public SimulatedMessage Next(string device, long index, long timestampMs)
    {
        var anomalous = index >= warmUp && random.NextDouble() < anomalyProbability;
        var value = anomalous ? random.Next(100, 121) : random.Next(10, 21);
        var payload = string.Create(CultureInfo.InvariantCulture, $"{{\"iotName\":\"{device}\",\"iotValue\":{value},\"ts\":{timestampMs}}}");
        return new SimulatedMessage(payload, anomalous, anomalous ? "iotValue" : null);
    }
}

/// <summary>
/// The fan of the IoT end-to-end pipeline (docs/reference-pipelines.md): {"TIME": iso8601, "FANID": id,
/// "FREQ": int, "RPM": int}. A healthy fan runs at about 40 Hz and 1200 rpm with small noise; with a
/// small probability it stalls for 3-8 readings (RPM collapses towards 0 and the frequency drops),
/// which is the ground truth.
/// </summary>
public sealed class FanGenerator(Random random, double stallProbability = 0.005, int warmUp = 50) : IDeviceGenerator
{
    private readonly Dictionary<string, int> _stallLeft = new(StringComparer.Ordinal);

    public string TopicSuffix => "fan";

    public IReadOnlyList<string> Metrics { get; } = ["FREQ", "RPM"];

    public SimulatedMessage Next(string device, long index, long timestampMs)
    {
        _stallLeft.TryGetValue(device, out var left);
        if (left == 0 && index >= warmUp && random.NextDouble() < stallProbability)
        {
            left = random.Next(3, 9);
        }

        var stalled = left > 0;
        _stallLeft[device] = stalled ? left - 1 : 0;
        var freq = stalled ? random.Next(5, 15) : 40 + random.Next(-1, 2);
        var rpm = stalled ? random.Next(0, 100) : 1200 + random.Next(-30, 31);
        var time = DateTimeOffset.FromUnixTimeMilliseconds(timestampMs).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fff", CultureInfo.InvariantCulture);
        var payload = new StringBuilder(96)
            .Append(CultureInfo.InvariantCulture, $"{{\"TIME\":\"{time}\",\"FANID\":\"{device}\",\"FREQ\":{freq},\"RPM\":{rpm}}}")
            .ToString();
        return new SimulatedMessage(payload, stalled, stalled ? "RPM" : null);
    }
}
