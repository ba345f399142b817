using System.Runtime.InteropServices;
using Akka.Configuration;
using AnomalyActors.Cli;

return await Cli.RunAsync(args);

namespace AnomalyActors.Cli
{
    public static class ExitCodes
    {
        public const int Ok = 0;
        public const int Failure = 1;
        public const int Usage = 2;
        public const int Configuration = 3;
        public const int DataDirectoryInUse = 4;
    }

    public static class Cli
    {
        public static readonly IReadOnlyList<CommandSpec> Commands = [RunCommand.Spec, SimulateCommand.Spec, ReplayCommand.Spec, StatusCommand.Spec, AlertsCommand.Spec, QueryCommand.QuerySpec, QueryCommand.DescribeSpec, DemoCommand.Spec, TrainCommand.Spec, ModelCommand.ListSpec, ModelCommand.ShowSpec, ModelCommand.RollbackSpec];

        public static async Task<int> RunAsync(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.Out.Write(Overview());
                return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
            }

            var command = Commands.FirstOrDefault(c => c.Name == args[0]);
            if (command is null)
            {
                await Console.Error.WriteAsync($"anomaly-actors: unknown command '{args[0]}'\n\n{Overview()}");
                return ExitCodes.Usage;
            }

            ParsedArguments parsed;
            try
            {
                parsed = ParsedArguments.Parse(command, args[1..]);
                if (parsed.Help)
                {
                    Console.Out.Write(command.Usage());
                    return ExitCodes.Ok;
                }
            }
            catch (UsageException e)
            {
                await Console.Error.WriteAsync($"anomaly-actors {command.Name}: {e.Message}\n\n{command.Usage()}");
                return ExitCodes.Usage;
            }

            using var stopping = new CancellationTokenSource();
            // Ctrl+C and SIGTERM ask for a graceful stop (final snapshots, broker stopped); a
            // second Ctrl+C is left to the runtime and ends the process at once.
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (!stopping.IsCancellationRequested)
                {
                    e.Cancel = true;
                    Console.Error.WriteLine("Stopping (Ctrl+C again to abort)...");
                    stopping.Cancel();
                }
            };
            Console.CancelKeyPress += onCancel;
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stopping.Cancel();
            });
            try
            {
                return command.Name switch
                {
                    "run" => await RunCommand.ExecuteAsync(parsed, stopping.Token),
                    "simulate" => await SimulateCommand.ExecuteAsync(parsed, stopping.Token),
                    "status" => await StatusCommand.ExecuteAsync(parsed, stopping.Token),
                    "alerts" => await AlertsCommand.ExecuteAsync(parsed, stopping.Token),
                    "demo" => await DemoCommand.ExecuteAsync(parsed, stopping.Token),
                    "query" => await QueryCommand.QueryAsync(parsed, stopping.Token),
                    "describe" => await QueryCommand.DescribeAsync(parsed, stopping.Token),
                    "train" => await TrainCommand.ExecuteAsync(parsed, stopping.Token),
                    "models" => await ModelCommand.ListAsync(parsed),
                    "model" => await ModelCommand.ShowAsync(parsed),
                    "rollback" => await ModelCommand.RollbackAsync(parsed),
                    _ => await ReplayCommand.ExecuteAsync(parsed, stopping.Token),
                };
            }
            catch (UsageException e)
            {
                await Console.Error.WriteAsync($"anomaly-actors {command.Name}: {e.Message}\n\n{command.Usage()}");
                return ExitCodes.Usage;
            }
            catch (AnomalyActors.Node.Hosting.DataDirectoryInUseException e)
            {
                await Console.Error.WriteLineAsync($"anomaly-actors {command.Name}: {e.Message}");
                return ExitCodes.DataDirectoryInUse;
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync($"anomaly-actors {command.Name}: configuration error: {e.Message}");
                return ExitCodes.Configuration;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                await Console.Error.WriteLineAsync($"anomaly-actors {command.Name}: {e.GetType().Name}: {e.Message}");
                return ExitCodes.Failure;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }

        private static string Overview()
        {
            var lines = new List<string>
            {
                "anomaly-actors: real-time anomaly detection for IoT sensor streams",
                string.Empty,
                "Usage: anomaly-actors <command> [options]    (anomaly-actors <command> --help for its options)",
                string.Empty,
                "Commands:",
            };
            lines.AddRange(Commands.Select(c => $"  {c.Name,-10}{c.Summary.Split('\n')[0]}"));
            lines.Add(string.Empty);
            lines.Add("Exit codes: 0 done, 1 failed, 2 bad arguments, 3 bad configuration, 4 data directory in use by another node.");
            return string.Join(Environment.NewLine, lines) + Environment.NewLine;
        }
    }
}
