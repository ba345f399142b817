using System.Globalization;
using System.Text;

namespace AnomalyActors.Cli;

/// <summary>A wrong argument: printed with the command's usage, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

public sealed record OptionSpec(string Name, string? Value, string Help);

public sealed record CommandSpec(string Name, string Summary, string? Argument, string? ArgumentHelp, IReadOnlyList<OptionSpec> Options)
{
    public string Usage()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"anomaly-actors {Name}{(Argument is null ? string.Empty : $" {Argument}")} [options]");
        text.AppendLine();
        text.AppendLine(Summary);
        if (Argument is not null)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"  {Argument,-28}{ArgumentHelp}");
        }

        text.AppendLine();
        text.AppendLine("Options:");
        foreach (var option in Options.Append(new OptionSpec("help", null, "Show this help.")))
        {
            var left = option.Value is null ? $"--{option.Name}" : $"--{option.Name} {option.Value}";
            text.AppendLine(CultureInfo.InvariantCulture, $"  {left,-28}{option.Help}");
        }

        return text.ToString();
    }
}

/// <summary>Parsed arguments of one command: <c>--name value</c>, <c>--name=value</c>, flags, one positional.</summary>
public sealed class ParsedArguments
{
    private readonly Dictionary<string, string?> _values;

    private ParsedArguments(CommandSpec command, Dictionary<string, string?> values, string? argument)
    {
        Command = command;
        _values = values;
        Argument = argument;
    }

    public CommandSpec Command { get; }
    public string? Argument { get; }
    public bool Help => _values.ContainsKey("help");

    public static ParsedArguments Parse(CommandSpec command, IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        string? argument = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                values["help"] = null;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (command.Argument is null || argument is not null)
                {
                    throw new UsageException($"unexpected argument '{arg}'");
                }

                argument = arg;
                continue;
            }

            var name = arg[2..];
            string? inline = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                inline = name[(equals + 1)..];
                name = name[..equals];
            }

            var spec = command.Options.FirstOrDefault(o => o.Name == name)
                ?? throw new UsageException($"unknown option '--{name}'");
            if (spec.Value is null)
            {
                if (inline is not null)
                {
                    throw new UsageException($"option '--{name}' takes no value");
                }

                values[name] = null;
                continue;
            }

            if (inline is null)
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new UsageException($"option '--{name}' needs a value ({spec.Value})");
                }

                inline = args[++i];
            }

            values[name] = inline;
        }

        return new ParsedArguments(command, values, argument);
    }

    public bool Flag(string name) => _values.ContainsKey(name);

    public string? Text(string name) => _values.TryGetValue(name, out var value) ? value : null;

    public string Text(string name, string fallback) => Text(name) ?? fallback;

    public int Int(string name, int fallback, int minimum = int.MinValue, int maximum = int.MaxValue)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < minimum || value > maximum)
        {
            throw new UsageException($"option '--{name}' must be an integer from {minimum} to {maximum}, not '{text}'");
        }

        return value;
    }

    public long Long(string name, long fallback, long minimum = 0)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < minimum)
        {
            throw new UsageException($"option '--{name}' must be an integer of at least {minimum}, not '{text}'");
        }

        return value;
    }

    public double Double(string name, double fallback, double minimum = 0)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < minimum)
        {
            throw new UsageException($"option '--{name}' must be a number of at least {minimum.ToString(CultureInfo.InvariantCulture)}, not '{text}'");
        }

        return value;
    }

    public T Choice<T>(string name, T fallback, IReadOnlyDictionary<string, T> choices)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        return choices.TryGetValue(text, out var value)
            ? value
            : throw new UsageException($"option '--{name}' must be one of {string.Join(", ", choices.Keys)}, not '{text}'");
    }
}
