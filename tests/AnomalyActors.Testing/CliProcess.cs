using System.Diagnostics;
using System.Text;

namespace AnomalyActors.Testing;

/// <summary>The anomaly-actors executable run as its own process the way users run it, its output collected with timestamps.</summary>
public sealed class CliProcess : IDisposable
{
    public static readonly string Program = Path.Combine(AppContext.BaseDirectory, "anomaly-actors.dll");

    private readonly StringBuilder _output = new();
    private readonly List<(TimeSpan At, string Line)> _lines = [];

    private readonly Action<string>? _onLine;

    private CliProcess(Process process, Action<string>? onLine)
    {
        Process = process;
        _onLine = onLine;
    }

    public Process Process { get; }
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>When the first line starting with <paramref name="prefix"/> appeared, or null.</summary>
    public TimeSpan? FirstLineAt(string prefix)
    {
        lock (_output)
        {
            return _lines.FirstOrDefault(l => l.Line.StartsWith(prefix, StringComparison.Ordinal)).At is var at && at > TimeSpan.Zero ? at : null;
        }
    }

    public static CliProcess Start(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        info.ArgumentList.Add(Program);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Start(workingDirectory, info);
    }

    /// <summary>
    /// Starts a prepared command line (e.g. inside a network namespace) with output captured;
    /// <paramref name="onLine"/> sees each line as it arrives (on the reader's thread).
    /// </summary>
    public static CliProcess Start(string workingDirectory, ProcessStartInfo info, Action<string>? onLine = null)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        // Many nodes run at once in the suite: the dashboard's fixed default port would collide.
        info.Environment.TryAdd("ANOMALY_ACTORS_WEB_PORT", "0");
        info.WorkingDirectory = workingDirectory;
        var cli = new CliProcess(new Process { StartInfo = info }, onLine);
        cli.Process.OutputDataReceived += (_, e) => cli.Append(e.Data);
        cli.Process.ErrorDataReceived += (_, e) => cli.Append(e.Data);
        cli.Process.Start();
        cli.Process.BeginOutputReadLine();
        cli.Process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs a command to its end (killed after <paramref name="timeout"/>).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        using var cli = Start(workingDirectory, args);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await cli.Process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            cli.Process.Kill(entireProcessTree: true);
            throw new TimeoutException($"anomaly-actors {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s:\n{cli.Output}");
        }

        cli.Process.WaitForExit();
        return (cli.Process.ExitCode, cli.Output);
    }

    /// <summary>SIGTERM, as a service manager stops it; waits for the exit.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        Process.Start("kill", ["-TERM", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]).WaitForExit();
        using var cancel = new CancellationTokenSource(timeout);
        await Process.WaitForExitAsync(cancel.Token);
        Process.WaitForExit();
    }

    /// <summary>Kills what is still running.</summary>
    public void Stop()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            _lines.Add((Clock.Elapsed, line));
        }

        _onLine?.Invoke(line);
    }
}
