using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Text.Json;
using AnomalyActors.Benchmarks.Nab;

namespace AnomalyActors.Benchmarks.Rcf;

/// <summary>
/// <c>rcf-speed --old A.dll --new B.dll [--shingle 8] [--rounds 1000] [--chunk 200]</c>: two builds of
/// AnomalyActors.Detection (each loaded into its own AssemblyLoadContext) run the same score-then-update stream
/// (50 trees, 256, seed 42, the rcf-speed series, shingles as consecutive values) in alternating chunks of a few
/// milliseconds, each timed in thread CPU time. On these shared 2-core machines other tenants change the speed of
/// the processor from one second to the next (caches, the other hyperthread), which swamps differences of 10-20%
/// between separate runs; chunks a few milliseconds apart see nearly the same conditions, so the median of the
/// per-round new/old ratios is a stable comparison. Also checks that both builds produce the same score bits.
/// </summary>
internal static class RcfAbHarness
{
    private delegate double ScoreFn(ReadOnlySpan<double> point);

    private delegate void UpdateFn(ReadOnlySpan<double> point);

    public static int Run(string[] argv)
    {
        var args = new HarnessArgs(argv);
        var oldPath = args.Get("old") ?? throw new ArgumentException("--old PATH to an AnomalyActors.Detection.dll is required.");
        var newPath = args.Get("new") ?? throw new ArgumentException("--new PATH to an AnomalyActors.Detection.dll is required.");
        var dim = args.GetInt("shingle") ?? 8;
        var rounds = args.GetInt("rounds") ?? 1000;
        var chunk = args.GetInt("chunk") ?? 200;
        const int WarmUp = 20_000;
        var random = new Random(7);
        var values = new double[WarmUp + (rounds * chunk) + dim];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (10 * Math.Sin(i * 2 * Math.PI / 288)) + random.NextDouble() + (random.NextDouble() < 0.002 ? 30 : 0);
        }

        var builds = new[] { Load(Path.GetFullPath(oldPath), "old", dim), Load(Path.GetFullPath(newPath), "new", dim) };
        var position = new int[2];
        var checksum = new ulong[2];
        void Advance(int which, int count)
        {
            var (score, update) = builds[which];
            var t = position[which];
            for (var i = 0; i < count; i++, t++)
            {
                var point = values.AsSpan(t, dim);
                checksum[which] = (checksum[which] * 1_099_511_628_211UL) ^ (ulong)BitConverter.DoubleToInt64Bits(score(point));
                update(point);
            }

            position[which] = t;
        }

        Advance(0, WarmUp);
        Advance(1, WarmUp);
        var times = new[] { new List<double>(rounds), new List<double>(rounds) };
        for (var r = 0; r < rounds; r++)
        {
            for (var k = 0; k < 2; k++)
            {
                var which = (r & 1) == 0 ? k : 1 - k; // alternate which build goes first
                var before = ThreadCpuSeconds();
                Advance(which, chunk);
                times[which].Add((ThreadCpuSeconds() - before) * 1e6 / chunk);
            }
        }

        var ratios = times[1].Zip(times[0], (n, o) => n / o).Order().ToList();
        var oldSorted = times[0].Order().ToList();
        var newSorted = times[1].Order().ToList();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "rcf-speed-ab",
            shingle = dim,
            rounds,
            chunk,
            old_cpu_us_p10 = Math.Round(oldSorted[rounds / 10], 2),
            old_cpu_us_median = Math.Round(oldSorted[rounds / 2], 2),
            new_cpu_us_p10 = Math.Round(newSorted[rounds / 10], 2),
            new_cpu_us_median = Math.Round(newSorted[rounds / 2], 2),
            ratio_median = Math.Round(ratios[rounds / 2], 3),
            ratio_p25 = Math.Round(ratios[rounds / 4], 3),
            ratio_p75 = Math.Round(ratios[3 * rounds / 4], 3),
            scores_identical = checksum[0] == checksum[1],
        }));
        return 0;
    }

    private static (ScoreFn Score, UpdateFn Update) Load(string path, string name, int dim)
    {
        var type = new AssemblyLoadContext(name).LoadFromAssemblyPath(path).GetType("AnomalyActors.Detection.Rcf.RandomCutForest", throwOnError: true)!;
        var forest = Activator.CreateInstance(type, dim, 50, 256, null, 42UL)!;
        return (
            type.GetMethod("Score")!.CreateDelegate<ScoreFn>(forest),
            type.GetMethod("Update")!.CreateDelegate<UpdateFn>(forest));
    }

    private static double ThreadCpuSeconds()
    {
        // CLOCK_THREAD_CPUTIME_ID: this thread's CPU time, without the time other processes held the core.
        return Native.clock_gettime(3, out var ts) == 0 ? ts.Seconds + (ts.Nanoseconds * 1e-9) : throw new InvalidOperationException("clock_gettime failed.");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static class Native
    {
        [DllImport("libc", EntryPoint = "clock_gettime")]
        public static extern int clock_gettime(int clock, out TimeSpec time);
    }
}
