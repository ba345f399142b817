using System.Globalization;
using AnomalyActors.Nab;
using Xunit;

namespace AnomalyActors.Detection.Tests;

internal static class TestSupport
{
    public static byte[] StateBytes(IDetector detector)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            detector.WriteState(writer);
        }

        return stream.ToArray();
    }

    public static void Restore(IDetector detector, byte[] state)
    {
        using var reader = new BinaryReader(new MemoryStream(state));
        detector.ReadState(reader);
        Assert.Equal(reader.BaseStream.Length, reader.BaseStream.Position);
    }

    public static void AssertBitIdentical(DetectorScore expected, DetectorScore actual, string context)
    {
        Assert.True(Bits(expected.Prediction) == Bits(actual.Prediction), $"Prediction differs at {context}");
        Assert.True(Bits(expected.Low) == Bits(actual.Low), $"Low differs at {context}");
        Assert.True(Bits(expected.High) == Bits(actual.High), $"High differs at {context}");
        Assert.True(Bits(expected.Sigma) == Bits(actual.Sigma), $"Sigma differs at {context}");
        Assert.True(expected.OutOfBand == actual.OutOfBand, $"OutOfBand differs at {context}");
        Assert.True(Bits(expected.Grade) == Bits(actual.Grade), $"Grade differs at {context}");
    }

    /// <summary>
    /// Asserts that a steady-state pass allocates nothing on this thread. <paramref name="arrange"/>
    /// builds and warms up a fresh subject (untimed) and returns the pass to measure. The runtime itself
    /// sometimes allocates a few KB on the calling thread while it promotes a hot method to optimised
    /// code (one run in six of the suite failed on 5,416 bytes that way), so a pass that allocated is
    /// tried again, up to <paramref name="maxAttempts"/> times; an allocation in the code under test
    /// recurs in every attempt instead, so it still fails.
    /// </summary>
    public static void AssertAllocatesNothing(Func<Action> arrange, int maxAttempts = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        var allocations = new List<long>();
        do
        {
            var pass = arrange();
            var before = GC.GetAllocatedBytesForCurrentThread();
            pass();
            allocations.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }
        while (allocations[^1] != 0 && allocations.Count < maxAttempts);

        Assert.True(allocations[^1] == 0, $"bytes allocated by each attempt: {string.Join(", ", allocations)}");
    }

    private static long Bits(double value) => BitConverter.DoubleToInt64Bits(value);
}

/// <summary>The vendored NAB corpus (datasets/nab) and this project's way of reading its series.</summary>
internal static class NabData
{
    /// <summary>The one lookup the tests and harnesses share; it throws when the corpus is missing, so these tests fail rather than skip.</summary>
    public static string Root() => NabCorpus.DefaultRoot();

    /// <summary>Every series as (path relative to data/ with forward slashes, timestamps, values).</summary>
    public static IReadOnlyList<(string File, long[] TimestampsMs, double[] Values)> AllSeries()
    {
        var data = Path.Combine(Root(), "data");
        var result = new List<(string, long[], double[])>();
        foreach (var path in Directory.GetFiles(data, "*.csv", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(data, path).Replace('\\', '/');
            var (ts, values) = ReadSeries(path);
            result.Add((name, ts, values));
        }

        return result;
    }

    public static (long[] TimestampsMs, double[] Values) ReadSeries(string path)
    {
        var ts = new List<long>();
        var values = new List<double>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var comma = line.IndexOf(',');
            var when = DateTime.ParseExact(line[..comma], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
            ts.Add(new DateTimeOffset(when, TimeSpan.Zero).ToUnixTimeMilliseconds());
            values.Add(double.Parse(line[(comma + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        return (ts.ToArray(), values.ToArray());
    }
}
