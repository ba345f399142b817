using System.Diagnostics;
using System.Text.Json;
using AnomalyActors.Benchmarks.Nab;
using AnomalyActors.Detection.Rcf;

namespace AnomalyActors.Benchmarks.Rcf;

/// <summary>
/// <c>rcf-speed [--shingle 1] [--trees 50] [--readings 200000]</c>: a quick single-thread wall-clock figure
/// (after 20,000 warm-up readings) with allocated bytes and a checksum of the score bits; BenchmarkDotNet's RcfBenchmarks is the reference.
/// With <c>--old A.dll --new B.dll</c> it compares two builds instead (see <see cref="RcfAbHarness"/>).
/// </summary>
internal static class RcfSpeedHarness
{
    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        if (args.Get("old") is not null || args.Get("new") is not null)
        {
            return RcfAbHarness.Run(argv);
        }

        var shingle = args.GetInt("shingle") ?? 1;
        var trees = args.GetInt("trees") ?? 50;
        var readings = args.GetInt("readings") ?? 200_000;
        // --wrap 65536 reads the series the way RcfBenchmarks does (its data array repeats every 65,536 readings);
        // --chunk N also prints wall and CPU us per reading for every N timed readings (how the cost drifts; the
        // printing allocates, so allocated_bytes is then not 0).
        var wrap = args.GetInt("wrap");
        var chunk = args.GetInt("chunk") ?? 0;
        var random = new Random(7);
        var values = new double[wrap ?? (readings + 20_000)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (10 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble() + (random.NextDouble() < 0.002 ? 30 : 0);
        }

        var detector = new RcfDetector(new RcfOptions(trees: trees, shingleSize: shingle, seed: 42));
        for (var i = 0; i < 20_000; i++)
        {
            detector.Update(i, values[i % values.Length]);
        }

        var loadBefore = LoadAverage();

        // Reading the process CPU time allocates, so it brackets the allocation count rather than sitting inside it.
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var checksum = 0UL;
        var chunkClock = Stopwatch.StartNew();
        var chunkCpu = cpuBefore;
        for (var i = 20_000; i < readings + 20_000; i++)
        {
            detector.Update(i, values[i % values.Length]);
            checksum = (checksum * 1_099_511_628_211UL) ^ (ulong)BitConverter.DoubleToInt64Bits(detector.LastScore);
            if (chunk > 0 && (i - 20_000 + 1) % chunk == 0)
            {
                var cpuNow = Process.GetCurrentProcess().TotalProcessorTime;
                Console.WriteLine(FormattableString.Invariant(
                    $"readings {i + 1 - chunk}-{i}: wall {chunkClock.Elapsed.TotalMicroseconds / chunk:F1} us, cpu {(cpuNow - chunkCpu).TotalMicroseconds / chunk:F1} us per reading"));
                chunkCpu = cpuNow;
                chunkClock.Restart();
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "rcf-speed",
            shingle,
            trees,
            readings,
            us_per_reading = Math.Round(seconds * 1e6 / readings, 3),
            // Process CPU time: less sensitive than wall time to other load on a shared machine (includes GC/JIT threads).
            cpu_us_per_reading = Math.Round(cpuSeconds * 1e6 / readings, 3),
            allocated_bytes = allocated,
            // FNV-style hash of every score's bits: equal checksums mean bit-identical scores (for exactness checks).
            score_checksum = checksum.ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
            // One-minute load average before and after (Linux): on these shared 2-core machines it counts other
            // tenants' runnable threads too, and wall time above about 2 mostly measures them.
            load_average_before = loadBefore,
            load_average_after = LoadAverage(),
        }));
        return 0;
    }

    private static double? LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
